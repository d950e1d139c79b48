"""Which variant runs on which backend: the rules `Classifier.load` and `verify` share.

Decided from the manifest and the installed packages only, before any model
file is parsed:

* a variant runs on the interpreters the variant table (core/variants.py) names for
  the route that built it, `numpy` among them only when weights.npz serves it;
* a backend runs it when its package is installed and it reports no known
  reason against it (the table's refusals, e.g. tflite-runtime 2.14 and the
  Keras 3 dynamic-int8 model, then the backend's own `unsupported_reason`);
* with no variant named, the manifest's `default_variant` is tried first, then
  `variant_preference`, skipping variants whose status is not `passed`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from edgelstm.core.errors import BackendUnavailableError
from edgelstm.core.variants import variant_spec
from edgelstm.runtime.backends import base
from edgelstm.runtime.bundle import Bundle

AUTO = "auto"


@dataclass(frozen=True)
class Option:
    """One (variant, backend) pair and why it cannot run here (None: it can)."""

    variant: str
    backend: str
    problem: str | None


def numpy_serves(bundle: Bundle, variant: str) -> bool:
    """True when the bundle's float32 weights.npz reproduces `variant` (a float32 variant)."""
    weights = bundle.manifest.weights
    return weights is not None and variant in weights.serves and weights.file in bundle.manifest.files


def options(bundle: Bundle, variant: str, *, backend: str | None = None) -> list[Option]:
    """Every backend that could run `variant` (or only `backend`), best first, with what stops it here.

    Naming the backend also keeps the other backends' modules unimported (start-up time)."""
    entry = bundle.variant(variant).to_dict()
    return [Option(variant, name, _problem(name, variant, entry))
            for name in base.candidates(variant, entry, numpy_serves=numpy_serves(bundle, variant))
            if backend is None or name == backend]


def _problem(backend: str, variant: str, entry: dict[str, Any]) -> str | None:
    if not base.is_installed(backend):
        return f"{backend} is not installed ({base.describe_install(backend)})"
    return base.reason_unsupported(backend, variant, entry)


def variant_order(bundle: Bundle) -> list[str]:
    """Passed variants in the order `auto` tries them: default first, then the preference list."""
    order = [bundle.default_variant] + list(bundle.manifest.variant_preference)
    order += list(bundle.variants)  # a manifest without a preference list still works
    seen: list[str] = []
    for name in order:
        if name and name in bundle.variants and name not in seen and is_passed(bundle, name):
            seen.append(name)
    return seen


def is_passed(bundle: Bundle, variant: str) -> bool:
    return bundle.variant(variant).passed


def plan(bundle: Bundle, *, variant: str | None, backend: str | None) -> list[Option]:
    """The (variant, backend) pairs to try, best first; raises when none can run here."""
    backend = None if backend in (None, AUTO) else backend
    if backend is not None:
        base.backend_class(backend)  # unknown or not installed: an error naming the pip extra
    if variant is not None:
        variant_spec(variant)  # unknown name: an error listing the valid ones
        bundle.variant(variant)  # not in this bundle: an error listing what it holds
    names = [variant] if variant is not None else variant_order(bundle)
    every = [option for name in names for option in options(bundle, name, backend=backend)]
    runnable = [option for option in every if option.problem is None]
    if runnable:
        return runnable
    raise BackendUnavailableError(_nothing_runs(bundle, variant, backend, every))


def _nothing_runs(bundle: Bundle, variant: str | None, backend: str | None, every: list[Option]) -> str:
    """Why nothing in the plan can run, naming what to install or which variant to use instead."""
    if variant and backend and not every:
        kind = bundle.variant(variant).format
        return (f"backend {backend} cannot run variant {variant} ({kind} format); backends for it: "
                f"{', '.join(o.backend for o in options(bundle, variant))}"
                + suggest_instead(bundle, backend, exclude=variant))
    if variant and backend:
        return (f"backend {backend} cannot run variant {variant}: {every[0].problem}"
                + suggest_instead(bundle, backend, exclude=variant))
    reasons = "; ".join(sorted({f"{o.variant} on {o.backend}: {o.problem}" for o in every if o.problem}))
    if variant:
        return f"variant {variant} cannot run here: {reasons}" + suggest_variants(bundle, exclude=variant)
    held = ", ".join(bundle.variants) or "none"
    if backend:
        return (f"backend {backend} can run no passed variant of {bundle.root} (it holds {held})"
                + (f": {reasons}" if reasons else ""))
    return f"no passed variant of {bundle.root} (it holds {held}) can run with the installed packages: {reasons or 'none passed'}"


def runnable_with(bundle: Bundle, backend: str, *, exclude: str | None = None) -> list[str]:
    """Passed variants of the bundle that `backend` can run here."""
    return [name for name in bundle.variants if name != exclude and is_passed(bundle, name)
            and any(o.problem is None for o in options(bundle, name, backend=backend))]


def suggest_instead(bundle: Bundle, backend: str, *, exclude: str | None = None, default: str = "") -> str:
    """"; with BACKEND use variant X or Y instead", or `default` when it runs none of them."""
    others = runnable_with(bundle, backend, exclude=exclude)
    return f"; with {backend} use variant {' or '.join(others)} instead" if others else default


def suggest_variants(bundle: Bundle, *, exclude: str) -> str:
    """"; variants that run here: X, Y" for an error about `exclude`, or "" when none do."""
    others = [name for name in variant_order(bundle) if name != exclude
              and any(o.problem is None for o in options(bundle, name))]
    return f"; variants of this bundle that run here: {', '.join(others)}" if others else ""
