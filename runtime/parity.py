"""Parity figures of one variant's probabilities against the Keras reference."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass

import numpy as np

from edgelstm.core.outputs import predicted_labels
from edgelstm.core.variants import FAST_PATH_MAX_DIFF_FP32, VARIANTS, Tolerance


@dataclass
class Parity:
    n: int
    max_abs_diff: float
    mean_abs_diff: float
    label_agreement: float
    accuracy: float | None  # percent, when true labels are known
    reference_accuracy: float | None
    accuracy_drop: float | None  # percentage points, positive = worse than Keras
    non_finite: int
    failures: list[str]
    # Fast path only: max |dp| against the padded way on the same variant and backend.
    vs_padded_max_abs_diff: float | None = None

    @property
    def passed(self) -> bool:
        return not self.failures

    def to_dict(self) -> dict:
        return {**asdict(self), "passed": self.passed}


def compare(probs: np.ndarray, reference: np.ndarray, *, variant: str,
            labels: np.ndarray | None = None, tolerance: Tolerance | None = None) -> Parity:
    """Figures of `probs` against `reference` and the bound failures.

    Both are [n] (two labels: the probability of label 1) or [n, C] (C labels: one column each,
    edgelstm.core.outputs). max |dp| is the largest difference over every row and every label,
    mean |dp| the mean over them; labels are compared as the variant and Keras choose them (the
    argmax over C labels). A [n] against [n, C] (or a different C) is refused: the variant does not
    give what the bundle's labels need.
    `labels`: true labels, -1 for rows without one (golden.npz's edge cases); accuracy
    is computed on the labelled rows only, probabilities and agreement on all rows.
    """
    tolerance = tolerance or VARIANTS[variant].tolerance
    probs, reference = _rows(probs), _rows(reference)
    if probs.shape[1:] != reference.shape[1:] or len(probs) != len(reference):
        raise ValueError(f"{variant}: probabilities of shape {list(probs.shape)} cannot be compared with the "
                         f"reference's {list(reference.shape)}")
    finite = np.isfinite(probs).all(axis=1)
    diff = np.abs(np.where(np.isfinite(probs), probs, np.inf) - reference)
    chosen, expected = _labels_of(probs), _labels_of(reference)
    agree = float(np.mean(chosen == expected)) if len(probs) else 1.0
    accuracy = reference_accuracy = drop = None
    labelled = np.asarray(labels).reshape(-1) >= 0 if labels is not None else None
    if labelled is not None and labelled.any():
        known = np.asarray(labels).reshape(-1)[labelled]
        accuracy = 100.0 * float(np.mean(chosen[labelled] == known))
        reference_accuracy = 100.0 * float(np.mean(expected[labelled] == known))
        drop = reference_accuracy - accuracy
    parity = Parity(n=len(probs), max_abs_diff=float(diff.max()) if diff.size else 0.0,
                    mean_abs_diff=float(diff.mean()) if diff.size else 0.0, label_agreement=agree,
                    accuracy=accuracy, reference_accuracy=reference_accuracy, accuracy_drop=drop,
                    non_finite=int((~finite).sum()), failures=[])
    parity.failures = _failures(parity, tolerance)
    return parity


def _rows(values: np.ndarray) -> np.ndarray:
    """[n] as [n, 1] (the probability of label 1), [n, C] as it is; float64."""
    array = np.asarray(values, dtype=np.float64)
    return array.reshape(-1, 1) if array.ndim <= 1 else array.reshape(len(array), -1)


def _labels_of(rows: np.ndarray) -> np.ndarray:
    """core.outputs.predicted_labels of [n, 1] or [n, C] rows, a NaN never chosen: a NaN probability is
    below the threshold (label 0), and over C labels the argmax is taken among the finite ones."""
    if rows.shape[1] == 1:
        return predicted_labels(rows[:, 0])
    return predicted_labels(np.where(np.isnan(rows), -np.inf, rows))


def compare_fast_path(fast: np.ndarray, padded: np.ndarray, reference: np.ndarray, *, variant: str,
                      labels: np.ndarray | None = None, tolerance: Tolerance | None = None) -> Parity:
    """The fast path's figures against Keras (the variant's own bounds), plus its distance to the
    padded way, bounded by FAST_PATH_MAX_DIFF_FP32 for float32 variants."""
    parity = compare(fast, reference, variant=variant, labels=labels, tolerance=tolerance)
    gap = np.abs(_rows(fast) - _rows(padded))
    parity.vs_padded_max_abs_diff = float(gap.max()) if gap.size else 0.0
    spec = VARIANTS.get(variant)
    if spec is not None and spec.is_float32 and not parity.vs_padded_max_abs_diff <= FAST_PATH_MAX_DIFF_FP32:
        parity.failures.append(f"fast path vs padded max |dp| {parity.vs_padded_max_abs_diff:.3g} > "
                               f"{FAST_PATH_MAX_DIFF_FP32:.0e}")
    return parity


def golden_parity(padded: np.ndarray, golden: Mapping[str, np.ndarray], *, variant: str,
                  tolerance: Tolerance | None = None, fast: np.ndarray | None = None) -> tuple[Parity, Parity | None]:
    """Golden-set parity, the one routine export's gate, `verify`, the bench worker and the Pi probe share.

    `padded`: the variant's probabilities on golden.npz's ids through all maxlen steps; `fast`:
    the same rows by the fast path, when the pair takes it. `golden` holds `keras_probs` and
    `labels` (-1 for edge cases). Returns the padded way's figures, and the fast path's (its own
    bounds plus its distance to the padded way) or None.
    """
    reference, labels = golden["keras_probs"], golden.get("labels")
    padded_parity = compare(padded, reference, variant=variant, labels=labels, tolerance=tolerance)
    if fast is None:
        return padded_parity, None
    return padded_parity, compare_fast_path(fast, padded, reference, variant=variant, labels=labels,
                                            tolerance=tolerance)


def _failures(p: Parity, t: Tolerance) -> list[str]:
    failures = []
    if p.non_finite:
        failures.append(f"{p.non_finite} outputs are NaN or infinite")
    if t.max_abs_diff is not None and p.max_abs_diff > t.max_abs_diff:
        failures.append(f"max |dp| {p.max_abs_diff:.3g} > {t.max_abs_diff:.3g}")
    if p.label_agreement < t.min_label_agreement:
        failures.append(f"label agreement {100 * p.label_agreement:.2f}% < {100 * t.min_label_agreement:.2f}%")
    if p.accuracy_drop is not None and p.accuracy_drop > t.max_accuracy_drop + 1e-9:
        failures.append(f"accuracy drop {p.accuracy_drop:.2f} points > {t.max_accuracy_drop:.2f}")
    return failures


FIGURES_HEADER = (f"{'n':>5} {'max|dp|':>9} {'bound':>8} {'mean|dp|':>9} {'agree%':>7} {'bound':>6} "
                  f"{'acc%':>6} {'drop':>6} {'NaN':>4}  status")


def format_figures(variant: str, p: Parity, tolerance: Tolerance | None = None) -> str:
    """One row's figures beside the bounds they were judged by (default: the variant's), aligned under FIGURES_HEADER."""
    t = tolerance or VARIANTS[variant].tolerance
    bound = f"{t.max_abs_diff:.0e}" if t.max_abs_diff is not None else "-"
    acc = f"{p.accuracy:.2f}" if p.accuracy is not None else "-"
    drop = f"{p.accuracy_drop:+.2f}" if p.accuracy_drop is not None else "-"
    status = "ok" if p.passed else "FAIL: " + "; ".join(p.failures)
    return (f"{p.n:>5} {p.max_abs_diff:>9.2e} {bound:>8} {p.mean_abs_diff:>9.2e} {100 * p.label_agreement:>7.2f} "
            f"{100 * t.min_label_agreement:>6.1f} {acc:>6} {drop:>6} {p.non_finite:>4}  {status}")


def format_table(rows: dict[str, Parity]) -> str:
    """A fixed-width table of every variant's figures beside its bounds."""
    header = f"{'variant':<15} {FIGURES_HEADER}"
    lines = [header, "-" * len(header)]
    lines += [f"{name:<15} {format_figures(name, p)}" for name, p in rows.items()]
    return "\n".join(lines)
