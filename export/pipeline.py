"""`export_run`: a run directory in, a checked bundle out (docs/contracts.md).

This process never imports TensorFlow. The Keras reference, every conversion and
every check run in child processes (`edgelstm.export.worker`); this one
orchestrates, gates each variant on parity, and writes the bundle atomically.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgelstm.core import family
from edgelstm.core.errors import ExportError
from edgelstm.core.manifest import STAGE_PARITY
from edgelstm.core.outputs import SIGMOID, label_columns, labels_of_width
from edgelstm.core.rundir import TOKENIZER, RunDirectory, read_run
from edgelstm.core.variants import VARIANTS, Route, VariantSpec, parse_variants, resolve_routes
from edgelstm.export import manifest as manifest_mod
from edgelstm.export import mobile_plan, modelcard
from edgelstm.export.defaults import DEFAULT_HELD_OUT
from edgelstm.export.evalset import EvalSet, build_eval_set
from edgelstm.export.jobs import DEFAULT_TIMEOUT, Job, JobFailed, run_job
from edgelstm.export.staging import staging
from edgelstm.runtime.bundle import GOLDEN, MODEL_CARD, STATUS_FAILED, STATUS_PASSED, WEIGHTS
from edgelstm.runtime.padding import PADDING_STATES
from edgelstm.runtime.parity import Parity, format_table, golden_parity
from edgelstm.runtime.tokenizer import KERAS_INDEX_FROM, Tokenizer

WORK = "_work"  # scratch inside the staging folder: removed with it on any failure
# Held-out texts scoring this close to the threshold may flip under full-int8 rounding: on the
# tiny test model 0.99 % of them lay within 0.01 and 0.99 % of the int8 labels flipped. For C
# labels the same closeness is a gap of twice that between the two most probable labels (for two
# labels |p - 0.5| < 0.01 is exactly |p1 - p0| < 0.02).
INT8_RISK_MARGIN = 0.01
Log = Callable[[str], None]


@dataclass
class Outcome:
    """What became of one variant: an entry for the manifest, or where and why it failed."""

    name: str
    route: str
    entry: dict[str, Any] | None = None
    parity: Parity | None = None
    stage: str = ""  # "convert" or "check" when no parity could be measured
    error: str = ""

    @property
    def passed(self) -> bool:
        return self.parity is not None and self.parity.passed


@dataclass
class Context:
    run: RunDirectory
    folder: Path
    work: Path
    evalset: EvalSet
    keras_probs: np.ndarray = field(default_factory=lambda: np.empty(0, np.float32))
    timeout: float = DEFAULT_TIMEOUT
    log: Log = print
    name: str = ""  # the bundle's folder name, the model card's title
    architecture: dict[str, Any] = field(default_factory=dict)  # keras_model.Architecture.to_dict()
    output: str = SIGMOID  # the head's kind (edgelstm.core.outputs), from the Keras model

    @property
    def eval_ids(self) -> Path:
        return self.work / "eval_ids.npy"

    @property
    def probe(self) -> Path:
        """The mobile variants' tokenization probe (export/convert_mobile.py), made by their conversions."""
        return self.work / "mediapipe-probe.tflite"


def export_run(run_dir: str | Path, out: str | Path, *, variants: list[str] | None = None,
               routes: list[str] | None = None, force: bool = False, keep_failed: bool = False,
               strict: bool = False, held_out: int = DEFAULT_HELD_OUT, timeout: float = DEFAULT_TIMEOUT,
               log: Log = print) -> Path:
    """Export `variants` (default: all) of the run at `run_dir` into the bundle `out`; returns its path.

    The bundle holds the variants that passed; one that failed to convert or missed its
    parity bound is left out and listed under the manifest's `rejected` with its reason
    (`keep_failed`: kept in the bundle instead, marked failed). Raises ExportError, leaving
    `out` as it was, when no variant passed, or when any failed and `strict`.
    """
    run = read_run(run_dir)
    specs, skipped = mobile_plan.plan(parse_variants(variants), run.tokenizer, named=bool(variants))
    for name, reason in skipped.items():
        log(f"{name:<15} not built: {reason}")
    chosen = resolve_routes(specs, routes)
    target = Path(out)
    with staging(target, force=force) as folder:
        ctx = Context(run=run, folder=folder, work=folder / WORK, evalset=build_eval_set(run, held_out=held_out),
                      timeout=timeout, log=log, name=target.resolve().name)
        ctx.work.mkdir()
        architecture = ctx.architecture = _reference(ctx)
        for warning in risk_warnings(specs, ctx.keras_probs[~ctx.evalset.edge_case]):
            log(f"warning: {warning}")
        outcomes = [_export_variant(spec, chosen[spec.name], ctx) for spec in specs]
        log(summary(outcomes))
        _gate(outcomes, strict=strict, target=target)
        _write_bundle(ctx, architecture, outcomes, keep_failed=keep_failed, skipped=skipped)
    passed = sum(o.passed for o in outcomes)
    log(f"bundle written to {target}: {passed} of {len(outcomes)} variant(s)"
        + ("" if passed == len(outcomes) else f", {'kept as failed' if keep_failed else 'rejected'}: "
           + ", ".join(f"{o.name} ({why_failed(o)})" for o in outcomes if not o.passed)))
    return target


def risk_warnings(specs: list[VariantSpec], probs: np.ndarray) -> list[str]:
    """Say before converting when full int8 will likely miss its label bound.

    Full-int8 rounding moves a probability by a few 1e-3 on average (1e-2 at most on IMDB), so
    a text that scores within INT8_RISK_MARGIN of the threshold may flip. More such texts than
    the share of labels the bound lets differ makes a miss likely: a model with little
    confidence (small data, few epochs) is the usual cause.
    """
    int8 = next((spec for spec in specs if spec.name == "tflite-int8"), None)
    if int8 is None or len(probs) == 0:
        return []
    top_two = np.sort(label_columns(probs), axis=1)[:, -2:]
    close = float(np.mean(top_two[:, 1] - top_two[:, 0] < 2 * INT8_RISK_MARGIN))
    allowed = 1.0 - int8.tolerance.min_label_agreement
    if close <= allowed:
        return []
    return [f"tflite-int8 is unlikely to pass: {100 * close:.1f} % of the held-out texts score within "
            f"{INT8_RISK_MARGIN} of the threshold, where full-int8 rounding flips labels, and its bound lets "
            f"{100 * allowed:.1f} % differ (a more confident model, or --variants without it, avoids the wait)"]


def _reference(ctx: Context) -> dict[str, Any]:
    """Keras probabilities on the evaluation set (golden.npz), weights.npz and the tokenizer."""
    ctx.log(f"evaluation set: {int((~ctx.evalset.edge_case).sum())} held-out texts and "
            f"{int(ctx.evalset.edge_case.sum())} edge cases; running the Keras model")
    np.save(ctx.eval_ids, ctx.evalset.ids)
    probs_path = ctx.work / "keras_probs.npy"
    job = Job("reference", "reference", {"model": str(ctx.run.model_path), "eval_ids": str(ctx.eval_ids),
                                         "probs_out": str(probs_path), "weights_out": str(ctx.folder / WEIGHTS),
                                         "padding_states_out": str(ctx.folder / PADDING_STATES)})
    try:
        result = run_job(job, ctx.work, timeout=ctx.timeout)
    except JobFailed as error:
        raise ExportError(f"cannot run the Keras model {ctx.run.model_path}: {error}") from None
    if result["architecture"]["maxlen"] != ctx.run.maxlen:
        raise ExportError(f"{ctx.run.model_path} reads {result['architecture']['maxlen']} tokens but the run's "
                          f"tokenizer pads to {ctx.run.maxlen}: the run directory is inconsistent; re-run training")
    ctx.output = _head_output(result["head"], ctx.run)
    ctx.keras_probs = np.load(probs_path)
    ctx.evalset.save(ctx.folder / GOLDEN, ctx.keras_probs)
    shutil.copyfile(ctx.run.root / TOKENIZER, ctx.folder / TOKENIZER)
    return result["architecture"]


def _head_output(head: dict[str, Any], run: RunDirectory) -> str:
    """The head's kind, once its width is checked against the run's labels (one column is two labels)."""
    labels = len(run.labels)
    if labels_of_width(head["units"]) != labels:
        names = ", ".join(run.labels)
        raise ExportError(f"{run.model_path} has a Dense({head['units']}, {head['output']}) head but the run names "
                          f"{labels} labels ({names}): the head needs one output per label (one for two labels)")
    return head["output"]


def _export_variant(spec: VariantSpec, route: Route, ctx: Context) -> Outcome:
    """Convert, inspect, run on the device interpreter, compare with Keras."""
    outcome = Outcome(spec.name, route.name)
    started = time.perf_counter()
    refusal = family_refusal(route, ctx.architecture)
    if refusal:  # known not to work for this stack: say why instead of converting
        outcome.stage, outcome.error = "convert", refusal
        ctx.log(f"{spec.name:<15} {route.name:<21} refused: {refusal}")
        return outcome
    try:
        stage = "convert"
        converted = run_job(_conversion_job(spec, route, ctx), ctx.work, timeout=ctx.timeout)
        stage = "check"
        checked = run_job(_check_job(spec, route, ctx), ctx.work, timeout=ctx.timeout)
    except JobFailed as error:
        outcome.stage, outcome.error = stage, str(error)
    else:
        if checked["problems"]:
            outcome.stage, outcome.error = "check", "; ".join(checked["problems"])
        else:
            _measure(outcome, spec, converted, checked, ctx)
    ctx.log(f"{spec.name:<15} {route.name:<21} {time.perf_counter() - started:6.1f} s  "
            + ("passed" if outcome.passed else f"FAILED: {outcome.error or '; '.join(outcome.parity.failures)}"))
    return outcome


def family_refusal(route: Route, architecture: dict[str, Any]) -> str | None:
    """Why `route` cannot build a variant of this stack (the variant table's `family_refused`), or None."""
    stack = family.stack_from_records(architecture.get("recurrent", []))
    mask_zero = bool(architecture.get("mask_zero", False))
    for feature in sorted(family.features(stack, mask_zero=mask_zero)):
        if feature in route.family_refused:
            return f"{family.describe(stack, mask_zero=mask_zero)}: {route.family_refused[feature]}"
    return None


def _conversion_job(spec: VariantSpec, route: Route, ctx: Context) -> Job:
    """The route's converter function, run in a child process (export/worker.py)."""
    params: dict[str, Any] = {"converter": route.converter, "model": str(ctx.run.model_path),
                              "out": str(ctx.folder / spec.filename), "precision": spec.precision,
                              "calibration": str(ctx.run.calibration_path)}
    if route.source is not None:
        # This export's file of the source variant when it was built, else one built for the purpose.
        source = VARIANTS[route.source]
        built = ctx.folder / source.filename
        params.update(source=str(built if built.is_file() else ctx.work / f"{source.name}-source.{source.format}"),
                      source_converter=source.default_route.converter, source_precision=source.precision)
    if spec.is_mobile:  # the file carries the tokenizer and the labels in its metadata
        params.update(tokenizer=str(ctx.run.root / TOKENIZER), labels=list(ctx.run.labels), probe=str(ctx.probe))
    return Job("convert", f"convert-{spec.name}", params)


def _check_job(spec: VariantSpec, route: Route, ctx: Context) -> Job:
    # A stack with a backward direction has no state inputs on any route (core.family).
    fast_path = route.fast_path and bool(ctx.architecture.get("fast_path", True))
    params: dict[str, Any] = {"format": spec.format, "precision": spec.precision, "backend": route.runs_on[0],
                              "fast_path": fast_path, "recurrent": ctx.architecture.get("recurrent"),
                              "file": str(ctx.folder / spec.filename),
                              "eval_ids": str(ctx.eval_ids), "probs_out": str(ctx.work / f"probs-{spec.name}.npy"),
                              "padding_states": str(ctx.folder / PADDING_STATES),
                              "fast_probs_out": str(ctx.work / f"fast-probs-{spec.name}.npy")}
    if spec.is_mobile:  # also through the client that ships it, on raw text
        params["mediapipe"] = {"golden": str(ctx.folder / GOLDEN), "probe": str(ctx.probe),
                               "out": str(ctx.work / f"mediapipe-{spec.name}.npz")}
    return Job("check", f"check-{spec.name}", params)


def _measure(outcome: Outcome, spec: VariantSpec, converted: dict[str, Any], checked: dict[str, Any],
             ctx: Context) -> None:
    fields = dict(checked["fields"])
    fast_probs = np.load(ctx.work / f"fast-probs-{spec.name}.npy") if "fast_path" in fields else None
    golden = {"keras_probs": ctx.keras_probs, "labels": ctx.evalset.labels}
    outcome.parity, fast = golden_parity(np.load(ctx.work / f"probs-{spec.name}.npy"), golden, variant=spec.name,
                                         tolerance=spec.tolerance, fast=fast_probs)
    if fast is not None:
        # The variant passes only when both ways do: a device may run either.
        fields["fast_path"] = {**fields["fast_path"], "parity": {**fast.to_dict(), "backend": checked["backend"]}}
        outcome.parity.failures += [f"fast path: {failure}" for failure in fast.failures]
    if spec.is_mobile:
        mediapipe = mobile_plan.raw_text_parity(np.load(ctx.work / f"mediapipe-{spec.name}.npz"), ctx.evalset,
                                                ctx.keras_probs, variant=spec.name,
                                                words=ctx.run.tokenizer.words)
        fields["mediapipe"] = {**mobile_plan.facts(ctx.run.tokenizer, ctx.run.maxlen, ctx.run.labels),
                               **mediapipe.to_dict(), "tolerance": spec.raw_text_tolerance.to_dict()}
        outcome.parity.failures += [f"MediaPipe on raw text: {failure}" for failure in mediapipe.failures]
        ctx.log(mediapipe.describe(spec.name))
    outcome.entry = {
        "file": spec.filename, "format": spec.format, "precision": spec.precision,
        "description": spec.description, "route": outcome.route, "converter": converted["converter"],
        **({"plain_use": mobile_plan.plain_use(fields, padding=ctx.run.tokenizer.padding)} if spec.format == "tflite" else {}),
        **fields, "bytes": (ctx.folder / spec.filename).stat().st_size,
        "parity": {**outcome.parity.to_dict(), "backend": checked["backend"]},
        "tolerance": spec.tolerance.to_dict(),  # the bounds applied: verify on a device judges by these
        "status": STATUS_PASSED if outcome.parity.passed else STATUS_FAILED,
    }


def summary(outcomes: list[Outcome]) -> str:
    """The parity table, then one line per variant that could not be measured."""
    measured = {o.name: o.parity for o in outcomes if o.parity is not None}
    lines = [format_table(measured)] if measured else []
    lines += [f"{o.name:<15} not built: {o.stage} failed ({o.route}): {o.error}" for o in outcomes if o.parity is None]
    return "\n".join(lines)


def why_failed(outcome: Outcome) -> str:
    """'convert failed: ...' or 'over its parity bound: label agreement ...', one line."""
    if outcome.error:
        return f"{outcome.stage} failed: {outcome.error.splitlines()[0]}"
    return "over its parity bound: " + "; ".join(outcome.parity.failures if outcome.parity else [])


def _gate(outcomes: list[Outcome], *, strict: bool, target: Path) -> None:
    failed = [o for o in outcomes if not o.passed]
    names = ", ".join(f"{o.name} ({o.stage + ' failed' if o.error else 'over its parity bound'})" for o in failed)
    if failed and strict:
        raise ExportError(f"{len(failed)} of {len(outcomes)} variant(s) failed: {names}. Nothing was written to "
                          f"{target} (--strict). Without --strict the bundle holds the variants that passed; "
                          "or leave the failing ones out with --variants")
    if not any(o.passed for o in outcomes):
        raise ExportError(f"no variant passed its checks ({names}), so there is no bundle to write to {target}")


def _write_bundle(ctx: Context, architecture: dict[str, Any], outcomes: list[Outcome], *, keep_failed: bool,
                  skipped: dict[str, str]) -> None:
    """Drop scratch and rejected files, then the model card, then the manifest (last: it lists the rest)."""
    shutil.rmtree(ctx.work)
    rejected = {}
    for outcome in outcomes:
        if outcome.entry is None:
            _remove_model_files(ctx.folder, outcome.name)
            rejected[outcome.name] = {"route": outcome.route, "stage": outcome.stage, "error": outcome.error}
        elif not outcome.passed and not keep_failed:
            _remove_model_files(ctx.folder, outcome.name)
            rejected[outcome.name] = {"route": outcome.route, "stage": STAGE_PARITY, "error": why_failed(outcome),
                                      "parity": outcome.entry["parity"]}
            outcome.entry = None
    variants = {o.name: o.entry for o in outcomes if o.entry is not None}
    manifest = manifest_mod.build_manifest(run=ctx.run, evalset=ctx.evalset, architecture=architecture,
                                           variants=variants, rejected=rejected, skipped=skipped, output=ctx.output)
    sizes = {path.name: path.stat().st_size for path in ctx.folder.iterdir()}
    card = modelcard.render(manifest, sizes, name=ctx.name,
                            known_words=_known_words(Tokenizer.load(ctx.folder / TOKENIZER)))
    (ctx.folder / MODEL_CARD).write_text(card, encoding="utf-8")
    manifest_mod.add_files(manifest, ctx.folder)
    manifest_mod.write_manifest(manifest, ctx.folder)


def _known_words(tokenizer: Tokenizer) -> int:
    """Words that get an id of their own (the rest read as out-of-vocabulary)."""
    if tokenizer.kind == "keras-imdb":
        return max(0, tokenizer.vocab_size - KERAS_INDEX_FROM)
    return len(tokenizer.words)


def _remove_model_files(folder: Path, name: str) -> None:
    for path in folder.glob(f"model-{name}.*"):
        path.unlink()
