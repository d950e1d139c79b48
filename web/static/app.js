// The page's logic: load the bundle's clients from this folder, classify what is typed.
//
// window.edgelstm is the page's programmatic face (the tests and `edgelstm bench` use it):
//   await edgelstm.ready                      -> {clients: [...], loadMs: {client: ms}}
//   await edgelstm.classify(texts, client)    -> [{label, score, scores: {label: p}}]: two labels, score is
//                                                the probability of labels[1]; C >= 3 labels, of the top label
import { Tokenizer } from "./tokenizer.js";

const config = await (await fetch("./edgelstm-web.json")).json();
const labels = config.labels;

async function loadMediaPipe(spec) {
  const { FilesetResolver, TextClassifier } = await import(spec.module);
  const wasm = await FilesetResolver.forTextTasks(new URL(spec.wasm, location.href).href);
  const classifier = await TextClassifier.createFromOptions(wasm, {
    baseOptions: { modelAssetPath: spec.file },
    maxResults: -1,
  });
  return (text) => {
    const scores = {};
    // Categories come sorted by score; the index is the output position, so labels[index] names it.
    for (const c of classifier.classify(text).classifications[0].categories) scores[labels[c.index]] = c.score;
    return scores;
  };
}

async function loadOnnx(spec) {
  const ort = await import(spec.module);
  ort.env.wasm.wasmPaths = new URL(spec.wasm, location.href).href;
  // A plain static server sends no COOP/COEP headers, so no SharedArrayBuffer: one thread.
  ort.env.wasm.numThreads = 1;
  const [session, tokenizerData] = await Promise.all([
    ort.InferenceSession.create(spec.file, { executionProviders: ["wasm"] }),
    fetch(spec.tokenizer).then((r) => r.json()),
  ]);
  const tokenizer = new Tokenizer(tokenizerData);
  encoders[spec.variant] = (text) => Array.from(tokenizer.encode(text));
  return async (text) => {
    const feeds = { [spec.inputs.ids]: new ort.Tensor("int32", tokenizer.encode(text), [1, tokenizer.maxlen]) };
    for (const [name, width] of spec.states) {
      feeds[name] = new ort.Tensor("float32", new Float32Array(width), [1, width]);
    }
    const out = (await session.run(feeds))[spec.output].data;
    if (out.length === 1) return { [labels[0]]: 1 - out[0], [labels[1]]: out[0] };  // a sigmoid: P(labels[1])
    return Object.fromEntries(labels.map((name, index) => [name, out[index]]));  // a softmax: one per label
  };
}

const LOADERS = { mediapipe: loadMediaPipe, onnxruntime: loadOnnx };
const runners = {};
const encoders = {};  // the JavaScript tokenizer, exposed so tests compare it with Python's
const loadMs = {};

async function loadAll() {
  for (const [name, spec] of Object.entries(config.clients)) {
    const start = performance.now();
    runners[name] = await LOADERS[name](spec);
    loadMs[name] = performance.now() - start;
  }
  // Milliseconds since navigation began: what a person waits before the page can classify.
  return { clients: Object.keys(runners), loadMs, readyMs: performance.now() };
}

// Two labels: labels[1] at or above the threshold. C >= 3: the most probable label (a tie: the first).
const binary = labels.length === 2;

function result(scores) {
  if (binary) {
    const score = scores[labels[1]];
    return { label: score >= config.threshold ? labels[1] : labels[0], score, scores };
  }
  const label = labels.reduce((best, name) => (scores[name] > scores[best] ? name : best), labels[0]);
  return { label, score: scores[label], scores };
}

async function classify(texts, client = Object.keys(runners)[0]) {
  const run = runners[client];
  if (!run) throw new Error(`no client ${client}: this page has ${Object.keys(runners).join(", ")}`);
  const out = [];
  for (const text of texts) out.push(result(await run(text)));
  return out;
}

const ready = loadAll();
function encode(texts) {
  const [encoder] = Object.values(encoders);
  if (!encoder) throw new Error("this page has no JavaScript tokenizer (it is built with the ONNX client)");
  return texts.map(encoder);
}

window.edgelstm = { ready, classify, encode, config };

// The form a person uses.
document.getElementById("about").textContent = binary
  ? `Bundle ${config.bundle.name}: labels ${labels.join(" / ")}, a text is ${labels[1]} when its score is at least ${config.threshold}.`
  : `Bundle ${config.bundle.name}: labels ${labels.join(" / ")}, a text gets its most probable label.`;
const status = document.getElementById("status");
const picker = document.getElementById("client");
const form = document.getElementById("form");
const answer = document.getElementById("answer");

for (const [name, spec] of Object.entries(config.clients)) {
  const option = document.createElement("option");
  option.value = name;
  option.textContent = `${spec.title} (${spec.file})`;
  picker.append(option);
}

ready.then(({ loadMs: ms }) => {
  status.textContent = "Ready: " + Object.entries(ms).map(([n, t]) => `${config.clients[n].title} loaded in ${Math.round(t)} ms`).join(", ") + ".";
  form.querySelector("button").disabled = false;
}, (error) => {
  status.textContent = `Could not load the model: ${error.message ?? error}`;
  status.className = "error";
});

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const text = document.getElementById("text").value;
  const start = performance.now();
  const [r] = await classify([text], picker.value);
  const ms = performance.now() - start;
  answer.hidden = false;
  document.getElementById("label").textContent = r.label;
  const head = binary ? `${labels[1]} score ${r.score.toFixed(4)} (threshold ${config.threshold}); `
    : `${r.label} ${r.score.toFixed(4)}; `;
  document.getElementById("score").textContent = head + labels.map((name) => `${name} ${r.scores[name].toFixed(4)}`).join(", ");
  document.getElementById("took").textContent = `${ms.toFixed(1)} ms, ${config.clients[picker.value].title}`;
  answer.className = binary ? (r.label === labels[1] ? "second" : "first") : "top";
});
