"""Check a bundle on this device: golden.npz through every variant on every installed backend.

Each (variant, backend) pair that can run here classifies the golden ids and is
compared with the Keras probabilities recorded at export, against the bounds the
export gated it on (the manifest's, schema 2; the variant table's for schema 1),
both the padded way and, where the pair has one, the fast path (runtime/padding.py),
which must also stay within 1e-5 of the padded way for float32 variants. Pairs that cannot run here are listed with the reason,
so a device owner sees what was and was not checked.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgelstm.core.errors import BackendUnavailableError, BundleError, EdgeLSTMError
from edgelstm.core.variants import VARIANTS, Tolerance, parse_variants
from edgelstm.runtime import mediapipe_client, selection, textarrays, tuning
from edgelstm.runtime.backends import base
from edgelstm.runtime.bundle import Bundle
from edgelstm.runtime.classifier import Classifier
from edgelstm.runtime.parity import FIGURES_HEADER, Parity, format_figures, golden_parity

OK, FAILED, SKIPPED = "ok", "FAIL", "skipped"
PADDED, FAST, RAW_TEXT = "padded", "fast", "text"
MEDIAPIPE = "mediapipe"  # not a runtime backend: the client an app ships, run on raw text


@dataclass
class Check:
    """One (variant, backend) row: figures when it ran, the reason when it did not."""

    variant: str
    backend: str
    status: str
    parity: Parity | None = None
    note: str = ""
    path: str = PADDED  # PADDED (all maxlen steps) or FAST (padding skipped, runtime/padding.py)
    tolerance: Tolerance | None = None  # the bounds it was judged by

    def to_dict(self) -> dict[str, Any]:
        return {"variant": self.variant, "backend": self.backend, "path": self.path, "status": self.status,
                "parity": self.parity.to_dict() if self.parity else None, "note": self.note}


@dataclass
class Report:
    bundle: str
    checks: list[Check] = field(default_factory=list)
    not_installed: dict[str, str] = field(default_factory=dict)  # backend -> pip command
    signed_by: str | None = None  # key id of the trusted signature checked, when keys were given

    @property
    def ran(self) -> list[Check]:
        return [check for check in self.checks if check.status != SKIPPED]

    @property
    def passed(self) -> bool:
        """True when something ran and nothing that ran failed."""
        return bool(self.ran) and all(check.status == OK for check in self.ran)

    def to_dict(self) -> dict[str, Any]:
        return {"bundle": self.bundle, "passed": self.passed, "checks": [c.to_dict() for c in self.checks],
                "not_installed": self.not_installed, "signed_by": self.signed_by}


def verify_bundle(path: str | Path, *, variants: list[str] | None = None, backends: list[str] | None = None,
                  threads: int | None = None, trusted_keys: Any = None) -> Report:
    """Run the golden set through the chosen (default: all passed) variants on the chosen backends.

    Named variants are checked even if they failed at export; named backends must be installed.
    Every listed file (the tokenizer included) is checked first; with `trusted_keys`, the
    signature too (`Bundle.open`). `threads`: row workers (None: `tuning.verify_threads()`,
    one per core; results do not depend on it).
    """
    threads = threads or tuning.verify_threads()
    bundle = Bundle.open(path, check_files=True, trusted_keys=trusted_keys)
    golden = _golden(bundle)
    wanted_backends = _backends(backends)
    report = Report(bundle=str(bundle.root), signed_by=bundle.signed_by)
    for name in _variants(bundle, variants, report):
        if MEDIAPIPE in wanted_backends and bundle.variant(name).mediapipe is not None:
            _mediapipe_check(bundle, name, golden, report)
        for option in selection.options(bundle, name):
            if option.backend not in wanted_backends:
                continue
            if not base.is_installed(option.backend):
                report.not_installed[option.backend] = base.describe_install(option.backend)
                continue
            report.checks.extend(_checks(bundle, option, golden, threads))
    return report


def _golden(bundle: Bundle) -> dict[str, np.ndarray]:
    """golden.npz's arrays (dtypes and ranks checked as read), with their lengths checked against each other."""
    golden = bundle.golden()
    rows, maxlen = golden["ids"].shape
    if maxlen != bundle.tokenizer.maxlen:
        raise BundleError(f"golden.npz of {bundle.root}: ids has {maxlen} columns but tokenizer.json pads to "
                          f"{bundle.tokenizer.maxlen}: re-export the bundle")
    for key in ("keras_probs", "labels", "lengths", "edge_case"):
        if key in golden and len(golden[key]) != rows:
            raise BundleError(f"golden.npz of {bundle.root}: {key} has {len(golden[key])} rows, ids {rows}: "
                              "re-export the bundle")
    return golden


def _mediapipe_check(bundle: Bundle, name: str, golden: dict[str, np.ndarray], report: Report) -> None:
    """The mobile variant in MediaPipe's TextClassifier on the golden raw texts, held to export's bounds.

    Texts export found MediaPipe to tokenize unlike us (`mediapipe.differing_rows`) are held
    to the label bound only; the others to the variant's own bounds too.
    """
    if not mediapipe_client.is_installed():
        report.not_installed[MEDIAPIPE] = mediapipe_client.INSTALL_HINT
        return
    texts = textarrays.unpack(golden)
    if texts is None:
        report.checks.append(Check(name, MEDIAPIPE, SKIPPED, note="golden.npz holds no raw texts", path=RAW_TEXT))
        return
    entry = bundle.variant(name)
    facts = entry.mediapipe
    assert facts is not None  # the caller checks
    rows = np.flatnonzero(golden["has_text"])
    differs = np.isin(rows, facts.differing_rows)
    probs = mediapipe_client.label_probabilities(bundle.read_checked(entry.file), [texts[row] for row in rows],
                                                 labels=len(bundle.labels))
    raw_bounds = facts.tolerance or VARIANTS[name].raw_text_tolerance  # what export gated it on
    parity, _ = mediapipe_client.compare_raw_texts(probs, golden["keras_probs"][rows], variant=name,
                                                   labels=golden["labels"][rows], differs=differs,
                                                   raw_tolerance=raw_bounds, tolerance=entry.tolerance)
    report.checks.append(Check(name, MEDIAPIPE, OK if parity.passed else FAILED, parity=parity, path=RAW_TEXT,
                               tolerance=raw_bounds))


def _backends(names: list[str] | None) -> list[str]:
    if not names:
        return [*base.BACKENDS, MEDIAPIPE]
    chosen = [part.strip() for raw in names for part in raw.split(",") if part.strip()]
    for name in chosen:
        if name == MEDIAPIPE:
            continue
        base.backend_class(name)  # unknown or not installed: an error naming the choices or the extra
    return chosen


def _variants(bundle: Bundle, names: list[str] | None, report: Report) -> list[str]:
    if names:
        chosen = [spec.name for spec in parse_variants(names)]
        for name in chosen:
            bundle.variant(name)  # not in this bundle: an error listing what it holds
        return chosen
    chosen = []
    for name, entry in bundle.variants.items():
        if selection.is_passed(bundle, name):
            chosen.append(name)
        else:
            report.checks.append(Check(name, "-", SKIPPED, note=f"status {entry.status!r} at export; "
                                                                 "name it with --variant to check it anyway"))
    return chosen


def _checks(bundle: Bundle, option: selection.Option, golden: dict[str, np.ndarray],
            threads: int | None) -> list[Check]:
    """The padded way, then the fast path when this pair takes it: a device may run either."""
    if option.problem is not None:
        return [Check(option.variant, option.backend, SKIPPED, note=option.problem)]
    padded, probs = _run(bundle, option, golden, threads, fast_path=False)
    checks = [padded]
    if probs is None:
        return checks
    fast, fast_probs = _run(bundle, option, golden, threads, fast_path=True)
    if fast is None:  # this pair has no fast path (an older bundle, a fused TFLite model)
        return checks
    if fast_probs is not None:
        _, fast.parity = golden_parity(probs, golden, variant=option.variant, tolerance=fast.tolerance, fast=fast_probs)
        fast.status = OK if fast.parity.passed else FAILED
    return checks + [fast]


def _run(bundle: Bundle, option: selection.Option, golden: dict[str, np.ndarray], threads: int | None,
         *, fast_path: bool) -> tuple[Check | None, np.ndarray | None]:
    """One way through the golden ids; (None, None) when `fast_path` is asked but not taken."""
    path = FAST if fast_path else PADDED
    try:
        with warnings.catch_warnings():
            # A failed variant named on purpose: its row already says how it fares.
            warnings.simplefilter("ignore", UserWarning)
            classifier = Classifier.load(bundle, variant=option.variant, backend=option.backend, threads=threads,
                                         fast_path=fast_path)
        with classifier:
            if fast_path and not classifier.fast_path:
                return None, None
            probs = classifier.predict_ids(golden["ids"])
    except (BackendUnavailableError, BundleError) as error:
        return Check(option.variant, option.backend, FAILED, note=f"cannot load: {error}", path=path), None
    except EdgeLSTMError as error:
        return Check(option.variant, option.backend, FAILED, note=str(error), path=path), None
    tolerance = bundle.variant(option.variant).tolerance
    parity, _ = golden_parity(probs, golden, variant=option.variant, tolerance=tolerance)
    return Check(option.variant, option.backend, OK if parity.passed else FAILED, parity=parity, path=path,
                 tolerance=tolerance), probs


def format_report(report: Report) -> str:
    """The table: one line per (variant, backend), figures beside bounds, then what was not checked."""
    header = f"{'variant':<15} {'backend':<15} {'path':<7} {FIGURES_HEADER}  {'vs padded':>9}"
    signed = f" (signature of trusted key {report.signed_by} checked)" if report.signed_by else ""
    lines = [f"bundle {report.bundle}{signed}", header, "-" * len(header)]
    for check in report.checks:
        figures = (format_figures(check.variant, check.parity, check.tolerance) if check.parity
                   else f"{'-':>5}  {check.status}: {check.note}")
        gap = check.parity.vs_padded_max_abs_diff if check.parity else None
        lines.append(f"{check.variant:<15} {check.backend:<15} {check.path:<7} {figures}"
                     + (f"  {gap:>9.2e}" if gap is not None else ""))
    for name, command in report.not_installed.items():
        lines.append(f"not checked: {name} is not installed ({command})")
    ran = report.ran
    failed = [c for c in ran if c.status != OK]
    verdict = ("PASSED" if report.passed else "FAILED" if ran else "NOTHING RAN: no installed backend runs any variant")
    lines.append(f"{verdict}: {len(ran) - len(failed)}/{len(ran)} checks within tolerance")
    return "\n".join(lines)
