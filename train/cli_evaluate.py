"""`edgelstm evaluate RUN [--data SOURCE]`: accuracy, loss, per-label precision/recall/F1 and the
confusion matrix of a run.

Without --data it scores the run's held-out validation split; `--data synthetic` scores a
fresh synthetic corpus from another seed (see `edgelstm.train.evaluate`).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

EXAMPLES = """examples:
  edgelstm evaluate out/demo/run                      # the run's held-out validation split
  edgelstm evaluate out/demo/run --data synthetic     # fresh synthetic reviews (seed + 1)
  edgelstm evaluate runs/imdb --data reviews.csv --text-column review --json
  edgelstm evaluate runs/topics --data held_out.csv --out runs/topics/held_out.json
"""


def configure(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = EXAMPLES
    parser.add_argument("run", metavar="RUN", help="run directory written by `edgelstm train`")
    parser.add_argument("--data", help="labelled data: 'synthetic', 'imdb', a .csv/.tsv/.jsonl file (optionally .gz) "
                                       "or a pos/neg folder (default: the run's validation split)")
    parser.add_argument("--text-column", help="CSV column / JSONL key of the text (default: the run's)")
    parser.add_argument("--label-column", help="CSV column / JSONL key of the label (default: the run's)")
    parser.add_argument("--encoding", help="text encoding of the data files (default: the run's)")
    parser.add_argument("--limit", type=int, help="evaluate on a class-balanced random sample of this many examples")
    parser.add_argument("--synthetic-size", type=int, help="size of the fresh synthetic set "
                                                           "(default: the run's validation size)")
    parser.add_argument("--imdb-npz", help="local Keras imdb.npz for --data imdb")
    parser.add_argument("--imdb-word-index", help="local imdb_word_index.json for --data imdb")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--out", metavar="FILE", help="also write the result as JSON to FILE (the report is "
                                                      "still printed)")


def run(args: argparse.Namespace) -> int:
    from edgelstm.train.evaluate import DATA_FIELDS, evaluate, format_report

    options = {name: getattr(args, name) for name in DATA_FIELDS}
    result = evaluate(args.run, args.data, **options)
    if args.out:
        from edgelstm.core import jsonio

        jsonio.write_json(Path(args.out), result)
    print(json.dumps(result, indent=2) if args.json else format_report(result))
    return 0
