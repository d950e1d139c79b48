"""README.md of a bundle: a model card rendered from its manifest, so the two cannot disagree."""

from __future__ import annotations

import re
from typing import Any

from edgelstm.core.outputs import LABEL_THRESHOLD
from edgelstm.export import modelcard_clients

# An absolute path inside a data source description ("/home/me/data/reviews.csv"): the card
# travels with the model, the exporter's folders do not.
_ABSOLUTE_PATH = re.compile(r"(?<![\w.])(?:/|[A-Za-z]:[\\/])[^\s,;()]*[\\/]([^\s,;()\\/]+)")


def render(manifest: dict[str, Any], bytes_of: dict[str, int], *, name: str | None = None,
           known_words: int | None = None) -> str:
    """Markdown for a reader deciding whether and how to use this bundle.

    name: the bundle's folder name (the title); known_words: words in the tokenizer's vocabulary.
    """
    task, source = manifest["task"], manifest["source_run"]
    arch = source["architecture"]
    accuracy = source.get("validation_accuracy")
    words = f"; it knows {known_words:,} words, any other word reads as unknown" if known_words is not None else ""
    lines = [
        f"# {name or source['name']}: {_cells(arch)} text classifier",
        "",
        _summary(task, arch, words),
        "",
        _origin(source) + (f"; validation accuracy of the Keras model {100 * accuracy:.2f} %"
                           if accuracy is not None else ""),
        f"- Keras model sha256: `{source['model_sha256']}`",
        f"- Exported {manifest['created']} by edgelstm {manifest['producer']['edgelstm']}",
        f"- Default variant: `{manifest['default_variant']}`",
        "",
        "## Variants",
        "",
        f"Each was run on its device interpreter over {manifest['golden']['count']} texts "
        f"({manifest['golden']['held_out']} {_gate_rows(source)} and {manifest['golden']['edge_cases']} "
        "edge cases) and compared with the Keras model's probabilities.",
        "",
        "| variant | file | KiB | route | max abs diff | bound | labels equal | accuracy drop (points) | status |",
        "| --- | --- | ---: | --- | ---: | ---: | ---: | ---: | --- |",
    ]
    lines += [_variant_row(name, entry, bytes_of) for name, entry in manifest["variants"].items()]
    lines += _rejected(manifest.get("rejected", {}))
    lines += _usage(manifest)
    lines += modelcard_clients.render(manifest)
    return "\n".join(lines) + "\n"


def _origin(source: dict[str, Any]) -> str:
    """Where the model comes from: the data a run trained on, or the model file export imported."""
    imported = source["config"].get("imported")
    if imported:
        return f"- Imported from the Keras model file `{imported['model_file']}` (tokenizer: {imported['tokenizer']})"
    return f"- Trained on: {without_paths(str(source['data_fingerprint'].get('source', 'unknown data')))}"


def _gate_rows(source: dict[str, Any]) -> str:
    """What the gate's rows other than the edge cases are (an imported model file names its own)."""
    imported = source["config"].get("imported")
    return imported["gate"] if imported and imported.get("gate") else "held-out validation texts"


def _summary(task: dict[str, Any], arch: dict[str, Any], words: str) -> str:
    """What the model is, what it reads and what its output means (two labels, or C with a softmax)."""
    labels = task["labels"]
    reads = (f"({arch['layers']}; vocabulary {arch['vocab_size']:,}, embedding {arch['embedding_dim']}{_units(arch)}) "
             f"reading up to {task['maxlen']} tokens{words}.")
    if len(labels) == 2:
        return (f"Binary text classifier {reads} "
                f"Its output is the {task['output']} probability of label 1 (`{labels[1]}`), which it predicts at or "
                f"above {LABEL_THRESHOLD}, else label 0 (`{labels[0]}`). `edgelstm predict` prints `probability`, how "
                f"sure the model is of the label it gives (at least 0.5), and with `--json` also `score`, the "
                f"probability of `{labels[1]}` whatever the label (rank or set your own threshold on it).")
    names = ", ".join(f"{index} `{name}`" for index, name in enumerate(labels))
    return (f"Text classifier of {len(labels)} labels {reads} "
            f"Its output is one {task['output']} probability per label, in this order: {names}; it predicts the most "
            f"probable label. `edgelstm predict` prints the label and its probability, and with `--json` also "
            f"`probabilities`, every label's by name; `Classifier.predict_proba` gives float32 [n, {len(labels)}].")


def without_paths(text: str) -> str:
    """`text` with every absolute path cut to its last component."""
    return _ABSOLUTE_PATH.sub(lambda match: match.group(1), text)


def _variant_row(name: str, entry: dict[str, Any], bytes_of: dict[str, int]) -> str:
    parity = entry["parity"]
    bound = entry["tolerance"]["max_abs_diff"]  # the bound this export applied
    drop = parity.get("accuracy_drop")
    return (f"| `{name}` | {entry['file']} | {bytes_of[entry['file']] / 1024:.1f} | {entry['route']} | "
            f"{parity['max_abs_diff']:.2e} | {f'{bound:.0e}' if bound is not None else '-'} | "
            f"{100 * parity['label_agreement']:.2f} % | {f'{drop:+.2f}' if drop is not None else '-'} | "
            f"{entry['status']} |")


def _rejected(rejected: dict[str, dict[str, Any]]) -> list[str]:
    if not rejected:
        return []
    lines = ["", "Not in this bundle (the conversion or its checks failed):", ""]
    return lines + [f"- `{name}` ({info['route']}, {info['stage']}): {info['error']}" for name, info in rejected.items()]


def _usage(manifest: dict[str, Any]) -> list[str]:
    return [
        "",
        "## Using it",
        "",
        "```bash",
        "pip install 'edgelstm[litert]'   # or edgelstm[onnx]; edgelstm alone runs the float32 NumPy backend",
        "edgelstm verify BUNDLE            # re-run the golden set on this device",
        'edgelstm predict BUNDLE "a quietly wonderful film"',
        "```",
        "",
        "```python",
        "from edgelstm.runtime import Classifier",
        "with Classifier.load(\"BUNDLE\") as classifier:   # the default variant on the best installed backend",
        "    print(classifier.predict([\"a quietly wonderful film\"]))",
        "```",
        "",
        "TFLite variants read one sequence per call (batch fixed to 1) and keep no state between calls:",
        "the fused LSTM files (tflite-int8's default route) zero their state tensors themselves at every",
        "call, so no `reset_all_variables()` is needed (a file with `reset_variables: true`, from an older",
        "export, needs it before each sequence). Texts become ids with",
        f"`tokenizer.json` ({manifest['task']['tokenizer']} tokenizer, padded and truncated at the front).",
        "`manifest.json` lists every file's sha256, each variant's ops, inputs, outputs and parity figures;",
        "`golden.npz` holds the evaluation ids with the Keras probabilities.",
    ] + _fast_path_usage(manifest)


def _cells(arch: dict[str, Any]) -> str:
    """'LSTM', 'GRU' or 'LSTM and GRU': the recurrent cells of the stack (docs/family.md)."""
    cells = sorted({layer["cell"].upper() for layer in arch.get("recurrent", [{"cell": "lstm"}])}, reverse=True)
    return " and ".join(cells)


def _units(arch: dict[str, Any]) -> str:
    """', 128 LSTM units' for the classic single LSTM; a stack's widths are in `layers` already."""
    from edgelstm.core import family

    records = arch.get("recurrent")
    classic = records is None or family.is_classic(family.stack_from_records(records))
    return f", {arch['lstm_units']} LSTM units" if classic else ""


def _fast_path_usage(manifest: dict[str, Any]) -> list[str]:
    fast = {name: entry for name, entry in manifest["variants"].items() if entry.get("fast_path")}
    padded_only = manifest["source_run"]["architecture"].get("padded_only")
    if padded_only:
        return ["", "### The padding", "", f"Every variant reads {manifest['task']['maxlen']} ids, padded at the "
                f"front, from the zero state: {padded_only}."]
    if not fast:
        return []
    maxlen = manifest["task"]["maxlen"]
    states = [role for role in next(iter(fast.values()))["fast_path"]["inputs"] if role != "ids"]
    tables = ", ".join(f"`{key}`" for key in _table_names(states))
    return [
        "",
        "### Skipping the padding",
        "",
        f"{', '.join(f'`{name}`' for name in fast)} also take the initial state of each recurrent layer "
        f"(inputs {', '.join(f'`{role}`' for role in states)}) and",
        "any sequence length. A text of n real tokens gives the padded result from just those n ids,",
        f"started from row {maxlen} - n of `padding_states.npz` ({tables}: the state after that many",
        "padding steps); the edgelstm runtime does this by default. Variants without a `fast_path`",
        f"entry read {maxlen} ids, padded at the front, from the zero state.",
    ]


def _table_names(roles: list[str]) -> list[str]:
    from edgelstm.core.family import table_key

    return [table_key(role) for role in roles]
