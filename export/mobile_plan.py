"""Export's side of the mobile variants: whether a bundle gets them, and how they fare in MediaPipe.

No TensorFlow here (this runs in the orchestrating process). The conversion is
export/convert_mobile.py, the client run runtime/mediapipe_client.py.
"""

from __future__ import annotations

import importlib.metadata
from dataclasses import dataclass
from typing import Any

import numpy as np

from edgelstm.core import family
from edgelstm.core.errors import ConfigError
from edgelstm.core.variants import VariantSpec
from edgelstm.export import convert_mobile
from edgelstm.export.evalset import EvalSet
from edgelstm.export.mobile_tokenizer import UNKNOWN_TOKEN, regex_tokenizer, why_not_expressible
from edgelstm.runtime import mediapipe_client
from edgelstm.runtime.parity import Parity
from edgelstm.runtime.tokenizer import PADDING_ID, VOCAB_OOV_ID, Tokenizer

MAX_EXAMPLES = 5  # differing texts shown in the manifest and the log
EXCERPT_CHARS = 80
MAX_TOKENS_SHOWN = 4


def plan(specs: list[VariantSpec], tokenizer: Tokenizer, *, named: bool) -> tuple[list[VariantSpec], dict[str, str]]:
    """The variants to build and {mobile variant: why not} for those this bundle cannot have.

    Named on the command line, an impossible mobile variant is an error; in the default set
    it is left out with its one-line reason (the log, the manifest's `skipped`, the card).
    """
    mobile = [spec for spec in specs if spec.is_mobile]
    reason = why_not_expressible(tokenizer)
    if reason is None and not mediapipe_client.is_installed():
        reason = (f"mediapipe is not installed ({mediapipe_client.INSTALL_HINT}); its metadata writer puts the "
                  "tokenizer into the file")
    if reason is None or not mobile:
        return specs, {}
    if named:
        raise ConfigError(f"{', '.join(spec.name for spec in mobile)} cannot be built: {reason}")
    return [spec for spec in specs if not spec.is_mobile], {spec.name: reason for spec in mobile}


def facts(tokenizer: Tokenizer, maxlen: int, labels: list[str]) -> dict[str, Any]:
    """What the manifest says of a mobile file for its clients (the converter wrote it from the same inputs)."""
    regex = regex_tokenizer(tokenizer)
    return {"task": convert_mobile.TASK, "mediapipe_version": importlib.metadata.version("mediapipe"),
            "input_tokens": convert_mobile.input_tokens(maxlen), "input_layout": convert_mobile.INPUT_LAYOUT,
            "delimiter": regex.delimiter, "vocabulary_entries": len(regex.vocabulary), "labels": list(labels),
            "output": convert_mobile.output_description(len(labels))}


def plain_use(fields: dict[str, Any], *, padding: str = "pre") -> dict[str, Any]:
    """How an app that invokes the .tflite plainly (no reset, its own inputs) must use it.

    `padding`: the bundle tokenizer's side, "pre" (padding before the text, the runtime's and
    `pad_sequences`' default) or "post" (after it, as a TextVectorization layer pads)."""
    inputs = [value["name"] for value in fields["inputs"]]
    ids = f"maxlen ids padded {'before' if padding == 'pre' else 'after'} the text"
    if fields.get("reset_variables"):
        how = ("keeps the LSTM state in variable tensors between invocations: call reset_all_variables() "
               "before every text, or each text continues from the previous one")
    elif fields.get("fast_path"):
        # The roles (h0, c0, h0_layer1, ...): a GRU has no c0, a stack has one set per layer.
        states = family.ordered_roles(role for role in fields["fast_path"]["inputs"] if role != family.IDS_ROLE)
        named = " and ".join([", ".join(states[:-1]), states[-1]] if len(states) > 1 else states)
        how = (f"{len(inputs)} inputs for the fast path: the ids (any length up to maxlen) and the initial "
               f"state{'s' if len(states) > 1 else ''} {named}; used plainly, size the ids input to "
               f"[1, maxlen] once, then feed {ids} and zeros for {named}. "
               "An app wanting one input and no state uses a mobile-* file")
    elif "mediapipe" in fields:
        how = ("one input, no state: MediaPipe's TextClassifier feeds it from raw text; a plain interpreter "
               "feeds the ids first and padding after, and reads one score per label ([1 - p, p] for two)")
    else:
        how = f"one input ({ids}), no state: invoke once per text"
    return {"stateless": not fields.get("reset_variables"), "inputs": len(inputs), "how": how}


@dataclass
class RawTextCheck:
    """A mobile variant in MediaPipe over the evaluation set's raw texts."""

    overall: Parity  # every text, against Keras
    alike: Parity  # texts MediaPipe tokenizes as we do
    rows: list[int]  # golden row of each text checked
    differing_rows: list[int]
    examples: list[dict[str, Any]]

    @property
    def failures(self) -> list[str]:
        return self.overall.failures

    def to_dict(self) -> dict[str, Any]:
        return {"parity": {**self.overall.to_dict(), "backend": "mediapipe"},
                "same_tokenization_parity": self.alike.to_dict(), "texts": len(self.rows),
                "tokenization_differs": len(self.differing_rows), "differing_rows": self.differing_rows,
                "examples": self.examples}

    def describe(self, name: str) -> str:
        line = (f"{name:<15} MediaPipe on {len(self.rows)} raw texts: labels agree {100 * self.overall.label_agreement:.2f} %, "
                f"max |dp| {self.overall.max_abs_diff:.2e}; {len(self.differing_rows)} tokenized unlike ours "
                f"(max |dp| {self.alike.max_abs_diff:.2e} on the {self.alike.n} others)")
        for example in self.examples:
            line += (f"\n{'':<15}   row {example['row']}: ours {example['ours']} / MediaPipe {example['mediapipe']}"
                     f" in {example['text']!r}")
        return line


def raw_text_parity(results: Any, evalset: EvalSet, keras_probs: np.ndarray, *, variant: str,
                    words: list[str]) -> RawTextCheck:
    """Compare MediaPipe's outputs (`results`: probs and the probe's windows, per text) with Keras'."""
    rows = np.flatnonzero(evalset.has_text)
    windows = np.asarray(results["windows"], np.int32)
    differs = np.any(windows != evalset.ids[rows], axis=1)
    overall, alike = mediapipe_client.compare_raw_texts(np.asarray(results["probs"]), keras_probs[rows],
                                                        variant=variant, labels=evalset.labels[rows],
                                                        differs=differs)
    differing = [int(row) for row in rows[differs]]
    examples = [_example(evalset, int(row), windows[position], words) for position, row in
                enumerate(rows) if differs[position]][:MAX_EXAMPLES]
    return RawTextCheck(overall, alike, [int(row) for row in rows], differing, examples)


def _example(evalset: EvalSet, row: int, window: np.ndarray, words: list[str]) -> dict[str, Any]:
    """Where MediaPipe's ids part from ours in one text, as words."""
    ours, theirs = evalset.ids[row], window
    apart = np.flatnonzero(ours != theirs)[:MAX_TOKENS_SHOWN]
    text = evalset.texts[row]
    return {"row": row, "text": text[:EXCERPT_CHARS] + ("..." if len(text) > EXCERPT_CHARS else ""),
            "ours": [_word(words, int(ours[i])) for i in apart],
            "mediapipe": [_word(words, int(theirs[i])) for i in apart]}


def _word(words: list[str], index: int) -> str:
    if index == PADDING_ID:
        return "<PAD>"
    if index == VOCAB_OOV_ID:
        return UNKNOWN_TOKEN
    return words[index - 2] if 0 <= index - 2 < len(words) else f"#{index}"
