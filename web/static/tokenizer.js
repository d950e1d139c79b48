// edgelstm's tokenizer (edgelstm.runtime.tokenizer) in JavaScript, for the ONNX client.
//
// JavaScript has no str.casefold(), its \s is not Python's whitespace and its \p{P}
// follows the browser's Unicode version, so the character classes are not taken from
// the browser: `edgelstm web` writes them into tokenizer-web.json from the Python that
// built the page (casefold mapping, whitespace, punctuation and symbol ranges).
// Only NFKC comes from the browser (String.prototype.normalize): a character assigned
// after the Unicode version of that Python can normalize differently.

const PADDING_ID = 0;
// What this file reads (edgelstm.runtime.tokenizer's format_version and standardize rules):
// anything newer is refused with its name rather than tokenized differently.
const MAX_FORMAT_VERSION = 3;
const RULE_V1 = "nfkc-casefold-br-punct-v1";
const RULE_CJK = "nfkc-casefold-br-punct-cjk-v2";  // v1, and each Chinese/Japanese character a word
const RULE_KERAS = "keras-imdb-v1";
const RULE_TEXT_VECTORIZATION = "keras-text-vectorization-v1";  // a Keras TextVectorization layer's defaults
const RULES = { vocab: [RULE_V1, RULE_CJK, RULE_TEXT_VECTORIZATION], "keras-imdb": [RULE_KERAS] };

export class Tokenizer {
  constructor(data) {
    if (!(data.format_version >= 1 && data.format_version <= MAX_FORMAT_VERSION)) {
      throw new Error(`tokenizer-web.json: format_version ${data.format_version} is not supported: this page's ` +
                      `tokenizer.js reads 1 to ${MAX_FORMAT_VERSION}; rebuild the page with the edgelstm that exported the bundle`);
    }
    this.rule = data.standardize ?? (data.kind === "vocab" ? RULE_V1 : RULE_KERAS);
    if (!(RULES[data.kind] ?? []).includes(this.rule)) {
      throw new Error(`tokenizer-web.json: kind ${data.kind} with rule ${this.rule} is not supported: this page's ` +
                      `tokenizer.js reads ${Object.entries(RULES).map(([k, r]) => `${k} (${r.join(", ")})`).join(", ")}`);
    }
    this.kind = data.kind;
    this.maxlen = data.maxlen;
    this.vocabSize = data.vocab_size;
    this.padding = data.padding;
    this.truncating = data.truncating;
    this.oovId = data.oov_id;
    this.startId = data.start_id;
    this.indexFrom = data.index_from;
    // A Map, not an object: "constructor" or "__proto__" are words too.
    this.ids = new Map();
    if (this.kind === "vocab") {
      data.words.forEach((word, i) => this.ids.set(word, i + 2));
    } else {
      for (const [word, rank] of Object.entries(data.word_index)) this.ids.set(word, rank);
    }
    const tables = data.tables;
    this.casefold = new Map(Object.entries(tables.casefold).map(([cp, s]) => [Number(cp), s]));
    this.spaces = new Set(tables.whitespace);
    this.punctRanges = tables.punctuation_symbol_ranges;  // sorted [first, last] code points
    // RULE_CJK: code points that are words of their own (edgelstm.runtime.standardize.CHARACTER_SCRIPTS).
    this.characterRanges = this.rule === RULE_CJK ? tables.character_word_ranges : [];
    const spaceClass = tables.whitespace.map((cp) => "\\u{" + cp.toString(16) + "}").join("");
    this.brTag = new RegExp("<[bB][rR][" + spaceClass + "]*/?>", "gu");
  }

  isPunctuationOrSymbol(cp) {
    return inRanges(this.punctRanges, cp);
  }

  // The "vocab" kind: NFKC, casefold, <br /> out, punctuation and symbols but ' to spaces, split.
  standardize(text) {
    const normal = text.replace(this.brTag, " ").normalize("NFKC");
    const words = [];
    let word = "";
    for (const ch of normal) {
      const cp = ch.codePointAt(0);
      const folded = this.casefold.has(cp) ? this.casefold.get(cp) : ch;
      for (const out of folded) {
        const ocp = out.codePointAt(0);
        if (this.spaces.has(ocp) || (out !== "'" && this.isPunctuationOrSymbol(ocp))) {
          if (word) words.push(word);
          word = "";
        } else if (inRanges(this.characterRanges, ocp)) {  // RULE_CJK: the character alone is a word
          if (word) words.push(word);
          words.push(out);
          word = "";
        } else {
          word += out;
        }
      }
    }
    if (word) words.push(word);
    return words;
  }

  // RULE_TEXT_VECTORIZATION: TensorFlow's tf.strings.lower (A-Z only, not toLowerCase), the 32 ASCII
  // punctuation characters deleted, split at runs of the six ASCII spaces only (not JavaScript's \s).
  textVectorizationWords(text) {
    return text.replace(/[A-Z]/g, (c) => c.toLowerCase())
      .replace(/[!"#$%&'()*+,\-./:;<=>?@[\\\]^_`{|}~]/g, "")
      .split(/[ \t\n\v\f\r]+/).filter((word) => word);
  }

  // The "keras-imdb" kind: lower-case, ASCII punctuation but ' (and tab, newline) to spaces, split on " ".
  kerasImdbWords(text) {
    return text.toLowerCase().replace(/[!"#$%&()*+,\-./:;<=>?@[\\\]^_`{|}~\t\n]/g, " ").split(" ");
  }

  wordIds(words) {
    if (this.kind === "vocab") return words.map((w) => this.ids.get(w) ?? this.oovId);
    const ids = [this.startId];
    for (const w of words) {
      const rank = this.ids.get(w);
      if (rank === undefined) continue;  // absent words are dropped, as Keras did
      const token = rank + this.indexFrom;
      ids.push(token < this.vocabSize ? token : this.oovId);
    }
    return ids;
  }

  // One text -> Int32Array of maxlen ids, padded and truncated like Keras' pad_sequences.
  encode(text) {
    const words = this.kind !== "vocab" ? this.kerasImdbWords(text)
      : this.rule === RULE_TEXT_VECTORIZATION ? this.textVectorizationWords(text) : this.standardize(text);
    let ids = this.wordIds(words);
    if (ids.length > this.maxlen) {
      ids = this.truncating === "pre" ? ids.slice(ids.length - this.maxlen) : ids.slice(0, this.maxlen);
    }
    const row = new Int32Array(this.maxlen).fill(PADDING_ID);
    row.set(ids, this.padding === "pre" ? this.maxlen - ids.length : 0);
    return row;
  }
}

// Is `cp` inside one of `ranges`, sorted disjoint [first, last] code points?
function inRanges(ranges, cp) {
  let lo = 0, hi = ranges.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1, [first, last] = ranges[mid];
    if (cp < first) hi = mid - 1; else if (cp > last) lo = mid + 1; else return true;
  }
  return false;
}
