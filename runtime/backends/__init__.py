"""One file per interpreter behind the interface in `base.py`."""
