"""On the Pi: run one (variant, backend) pair that the runtime's rules refuse, to see the rule still holds.

Usage: python probe.py BUNDLE BACKEND VARIANT -> one JSON line: {"ran": true, "passed": ...,
"failures": [...]} or {"ran": false, "error": "..."}. One process per pair, so an interpreter
that crashes takes only this probe down (the caller reports the signal).
"""

from __future__ import annotations

import json
import sys

from edgelstm.runtime.backends import base
from edgelstm.runtime.bundle import Bundle
from edgelstm.runtime.parity import golden_parity


def probe(bundle_path: str, backend: str, variant: str) -> dict:
    bundle = Bundle.open(bundle_path)
    golden = bundle.golden()
    entry = bundle.variant(variant)
    try:
        # The backend class directly: Classifier.load and verify would apply the rule first.
        model = base.backend_class(backend)(bundle.root / entry.file, entry.to_dict())
        probs = model.predict_ids(golden["ids"])
        model.close()
    except Exception as error:  # noqa: BLE001 - the error is the finding
        message = " ".join(str(error).split())
        return {"ran": False, "error": f"{type(error).__name__}: {message[:400]}"}
    parity, _ = golden_parity(probs, golden, variant=variant, tolerance=entry.tolerance)
    return {"ran": True, "passed": parity.passed, "failures": parity.failures, "max_abs_diff": parity.max_abs_diff}


if __name__ == "__main__":
    print(json.dumps(probe(*sys.argv[1:4])))
