"""`python -m edgelstm` and the `edgelstm` console script."""

from edgelstm.main import main

if __name__ == "__main__":
    raise SystemExit(main())
