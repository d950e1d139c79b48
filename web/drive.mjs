// Drive Debian's Chromium, headless, through one edgelstm page: `node drive.mjs < job.json`.
//
// job: {url, playwright (path of playwright-core's index.mjs), chromium, texts, clients,
//       encode (bool: also run the page's JavaScript tokenizer), screenshot (path or null)}
// prints one JSON object: {ready, results: {client: [{label, score, scores, ms}]}, encoded,
//       requests: [url], failed: [url], console: [text], pageErrors: [text]}
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";

const job = JSON.parse(readFileSync(0, "utf8"));
const { chromium } = await import(pathToFileURL(job.playwright).href);

// As root in a container, without a GPU, on a closed network: Chromium's own background
// connections (updates, sync, QUIC probes) would only be refused, so they are switched off.
const FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
  "--disable-component-update", "--disable-sync", "--disable-default-apps", "--disable-extensions"];

const browser = await chromium.launch({ executablePath: job.chromium, args: FLAGS, headless: true, timeout: 120000 });
const report = { requests: [], failed: [], console: [], pageErrors: [], results: {}, encoded: null };
try {
  const page = await browser.newPage();
  page.setDefaultTimeout(120000);
  page.on("request", (r) => report.requests.push(r.url()));
  page.on("requestfailed", (r) => report.failed.push(`${r.url()} ${r.failure()?.errorText ?? ""}`));
  page.on("console", (m) => { if (m.type() === "error" || m.type() === "warning") report.console.push(m.text()); });
  page.on("pageerror", (e) => report.pageErrors.push(String(e)));
  await page.goto(job.url, { waitUntil: "load" });
  await page.waitForFunction(() => window.edgelstm !== undefined);
  report.ready = await page.evaluate(() => window.edgelstm.ready);
  for (const client of job.clients) {
    report.results[client] = await page.evaluate(async ({ texts, client }) => {
      const out = [];
      for (const text of texts) {
        const start = performance.now();
        const [r] = await window.edgelstm.classify([text], client);
        out.push({ ...r, ms: performance.now() - start });
      }
      return out;
    }, { texts: job.texts, client });
  }
  if (job.encode) report.encoded = await page.evaluate((texts) => window.edgelstm.encode(texts), job.texts);
  if (job.screenshot) {
    // What a person sees: type the first text and press the button.
    await page.fill("#text", job.texts[0] ?? "");
    await page.click("button[type=submit]");
    await page.waitForSelector("#answer:not([hidden])");
    report.shown = { label: await page.textContent("#label"), score: await page.textContent("#score") };
    await page.screenshot({ path: job.screenshot, fullPage: true });
  }
} catch (error) {
  report.error = String(error && error.stack || error);
} finally {
  await browser.close();
}
process.stdout.write(JSON.stringify(report));
