"""Write a bundle all at once or not at all: `edgelstm.core.staging` with the bundle's marker."""

from __future__ import annotations

import functools

from edgelstm.core import staging as _staging
from edgelstm.runtime.bundle import MANIFEST

# `--force` replaces only a folder that holds a manifest (or an empty one).
check_target = functools.partial(_staging.check_target, marker=MANIFEST, kind="bundle")
staging = functools.partial(_staging.staging, marker=MANIFEST, kind="bundle")
remove_orphans = _staging.remove_orphans
Interrupted = _staging.Interrupted
