"""The model card's "In an app" section: per client, the file to copy, its input and output, a snippet.

Rendered from the manifest like the rest of the card. Says which clients were run
for this bundle (Python MediaPipe, at export) and which were not.
"""

from __future__ import annotations

from typing import Any

TEXT = "a quietly wonderful film"


def render(manifest: dict[str, Any]) -> list[str]:
    mobile = [name for name, entry in manifest["variants"].items() if entry.get("mediapipe")]
    lines = ["", "## In an app", ""]
    skipped = manifest.get("skipped") or {}
    if not mobile:
        reasons = "; ".join(sorted(set(skipped.values()))) or "no mobile variant was exported"
        return lines + [f"This bundle has no MediaPipe (mobile) variant: {reasons}.", ""] + _plain(manifest, None)
    name = "mobile-dynint8" if "mobile-dynint8" in mobile else mobile[0]
    entry = manifest["variants"][name]
    facts = entry["mediapipe"]
    labels = manifest["task"]["labels"]
    lines += [
        f"Copy **`{entry['file']}`** (`{name}`; {', '.join(f'`{n}`' for n in mobile)} in this bundle) into the app.",
        "MediaPipe Tasks' TextClassifier reads the tokenizer and the labels from the file's metadata, so the app",
        "hands it raw text:",
        "",
        f"- input: raw text; inside, int32 ids `[1, {facts['input_tokens']}]` in MediaPipe's layout (the first "
        f"{facts['input_tokens']} tokens, padding after), turned by the graph into the model's window of the "
        f"last {manifest['task']['maxlen']} tokens",
        f"- output: one category per label, `{labels[0]}` (index 0) and `{labels[1]}` (index 1), scores "
        "`[1 - p, p]`, sorted by score: the first category is the predicted label",
        f"- tokenizer: a RegexTokenizer (delimiter `{facts['delimiter']}`) and a vocabulary of "
        f"{facts['vocabulary_entries']:,} entries with each word's capitalized and upper-case forms. It does not "
        "apply NFKC or full case folding, so full-width letters and mixed case (`MiXeD`) are unknown words to it, "
        "and a run of Chinese or Japanese characters is one unknown word (one per character in edgelstm's)",
        "",
    ]
    lines += _measured(facts)
    lines += _snippets(entry["file"])
    return lines + _plain(manifest, name)


def _measured(facts: dict[str, Any]) -> list[str]:
    parity = facts["parity"]
    return [
        "Which clients were run for this bundle:",
        "",
        f"- **Python MediaPipe** (mediapipe {facts.get('mediapipe_version', '')}): run by export on the "
        f"{facts['texts']} raw texts of the evaluation set: labels equal to Keras' on "
        f"{100 * parity['label_agreement']:.2f} %, max |dp| {parity['max_abs_diff']:.2e}; "
        f"{facts['tokenization_differs']} text(s) tokenized unlike edgelstm's tokenizer "
        f"(`manifest.json`, `mediapipe.examples`).",
        "- **Web** (`@mediapipe/tasks-text`): the same C++ core compiled to wasm; not run by this export.",
        "  `edgelstm web BUNDLE --out DIR` writes an offline page that runs this file (the project's tests run",
        "  such a page in headless Chromium: float32 scores equal Python MediaPipe's within 1e-6; the wasm",
        "  int8 kernels are not the native ones, so an int8 file's scores may differ by a few 1e-5).",
        "- **Android (Kotlin), iOS (Swift)**: not run here (no device or emulator); the same C++ core as the",
        "  Python package.",
        "",
    ]


def _snippets(file: str) -> list[str]:
    stem = file.rsplit(".", 1)[0]
    return [
        "Android (Kotlin, `com.google.mediapipe:tasks-text`; the file in `src/main/assets`):",
        "",
        "```kotlin",
        "import com.google.mediapipe.tasks.text.textclassifier.TextClassifier",
        "",
        f'val classifier = TextClassifier.createFromFile(context, "{file}")',
        f'val top = classifier.classify("{TEXT}").classificationResult().classifications()[0].categories()[0]',
        'Log.i("edgelstm", "${top.categoryName()} ${top.score()}")',
        "```",
        "",
        "iOS (Swift, pod `MediaPipeTasksText`; the file in the app bundle):",
        "",
        "```swift",
        "import MediaPipeTasksText",
        "",
        f'let path = Bundle.main.path(forResource: "{stem}", ofType: "tflite")!',
        "let classifier = try TextClassifier(modelPath: path)",
        f'let top = try classifier.classify(text: "{TEXT}").classificationResult.classifications[0].categories[0]',
        'print(top.categoryName ?? "", top.score)',
        "```",
        "",
        "Web (JavaScript, npm `@mediapipe/tasks-text`; serve its `wasm` folder beside the page, no CDN needed):",
        "",
        "```javascript",
        'import { FilesetResolver, TextClassifier } from "@mediapipe/tasks-text";',
        "",
        "// node_modules/@mediapipe/tasks-text/wasm/ served from your own site: no CDN, works offline.",
        'const fileset = await FilesetResolver.forTextTasks(new URL("./wasm", location.href).href);',
        "const classifier = await TextClassifier.createFromOptions(fileset, {",
        f'  baseOptions: {{ modelAssetPath: "./{file}" }},',
        "  maxResults: -1,  // every label, not just the best",
        "});",
        f'const categories = classifier.classify("{TEXT}").classifications[0].categories;  // sorted by score',
        "const top = categories[0];  // c.index is the label's position in the output",
        "console.log(top.categoryName, top.score);",
        "```",
        "",
        "Python (`pip install 'edgelstm[mediapipe]'`, or mediapipe alone):",
        "",
        "```python",
        "from mediapipe.tasks.python.core.base_options import BaseOptions",
        "from mediapipe.tasks.python.text import text_classifier",
        "",
        f'options = text_classifier.TextClassifierOptions(base_options=BaseOptions(model_asset_path="{file}"))',
        "with text_classifier.TextClassifier.create_from_options(options) as classifier:",
        f'    top = classifier.classify("{TEXT}").classifications[0].categories[0]',
        "    print(top.category_name, top.score)",
        "```",
        "",
    ]


def _plain(manifest: dict[str, Any], mobile: str | None) -> list[str]:
    """A plain TFLite interpreter: what each file needs fed, from the manifest's `plain_use`."""
    lines = ["With a plain TFLite interpreter (no MediaPipe), ids come from `tokenizer.json`. What each file",
             "needs when invoked plainly, once per text (`plain_use` in `manifest.json`):", ""]
    for name, entry in manifest["variants"].items():
        use = entry.get("plain_use")
        if use:
            lines.append(f"- `{name}` ({entry['file']}): {use['how']}")
    return lines + [""]
