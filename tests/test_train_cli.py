"""`edgelstm train` and `edgelstm evaluate` as a user runs them: results and one-line errors."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys

import pytest

from edgelstm.main import main

TINY = ["--synthetic-size", "240", "--vocab-size", "120", "--maxlen", "24", "--embedding-dim", "8",
        "--lstm-units", "8", "--epochs", "1", "--batch-size", "32", "--calibration-size", "20"]


def run_cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    run = tmp_path_factory.mktemp("cli") / "run"
    assert main(["train", "--data", "synthetic", "--out", str(run), "--quiet", *TINY]) == 0
    return run


def write(path, text, *, encoding="utf-8"):
    data = text.encode(encoding)
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)
    return str(path)


@pytest.mark.slow
def test_train_prints_a_one_line_summary(capsys, tmp_path):
    code, out, _ = run_cli(capsys, "train", "--out", str(tmp_path / "r"), "--quiet", *TINY, "--seed", "3")
    assert code == 0
    assert out.count("\n") == 1 and "validation accuracy" in out and "labels neg/pos" in out
    metrics = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert f"{metrics['validation']['accuracy']:.4f}" in out


@pytest.mark.slow
def test_evaluate_defaults_to_the_held_out_split(capsys, trained):
    code, out, _ = run_cli(capsys, "evaluate", str(trained), "--json")
    result = json.loads(out)
    metrics = json.loads((trained / "metrics.json").read_text())
    assert code == 0 and result["data"] == "validation.npz"
    assert result["accuracy"] == pytest.approx(metrics["validation"]["accuracy"])
    assert sum(map(sum, result["confusion_matrix"])) == result["examples"] == metrics["validation"]["examples"]


@pytest.mark.slow
def test_evaluate_on_fresh_synthetic_data_and_on_a_csv(capsys, trained, tmp_path):
    code, out, _ = run_cli(capsys, "evaluate", str(trained), "--data", "synthetic", "--synthetic-size", "60")
    assert code == 0 and "seed=1" in out and "confusion matrix" in out and "accuracy" in out
    csv = write(tmp_path / "e.csv", "text,label\nthe story was superb,pos\nthe cast was dull,neg\nlovely,pos\n")
    code, out, _ = run_cli(capsys, "evaluate", str(trained), "--data", csv, "--json")
    result = json.loads(out)
    assert code == 0 and result["examples"] == 3 and result["labels"] == ["neg", "pos"]
    assert [sum(row) for row in result["confusion_matrix"]] == [1, 2]


BAD_DATA = {
    "missing file": (None, "does not exist"),
    "missing column": ("review,label\ngood,1\nbad,0\n", "no column 'text'"),
    "empty": ("text,label\n", "holds no examples"),
    "single class": ("text,label\ngood,1\nfine,1\n", "only one label"),
    "a class too small to split": ("text,label\ngood,1\nbad,0\nmeh,2\n", "too few for a validation split"),
}


@pytest.mark.parametrize("case", BAD_DATA)
def test_bad_data_gets_one_line_and_exit_2(capsys, tmp_path, case):
    content, fragment = BAD_DATA[case]
    path = tmp_path / "d.csv" if content is None else write(tmp_path / "d.csv", content)
    code, out, err = run_cli(capsys, "train", "--data", str(path), "--out", str(tmp_path / "r"), *TINY)
    assert code == 2 and fragment in err
    assert err.startswith("edgelstm: error: ") and err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "r").exists()


def test_undecodable_bytes(capsys, tmp_path):
    path = write(tmp_path / "d.csv.gz", "text,label\ncaf\u00e9,1\nbad,0\n", encoding="latin-1")
    code, _, err = run_cli(capsys, "train", "--data", path, "--out", str(tmp_path / "r"), *TINY)
    assert code == 2 and "is not valid utf-8" in err and "--encoding" in err and err.count("\n") == 1


@pytest.mark.parametrize("option, value, fragment", [
    ("--epochs", "0", "epochs=0 is out of range"),
    ("--validation-split", "2", "validation_split=2.0 is out of range"),
    ("--label-names", "a,A", "must be 2 to 127 different non-empty names"),
    ("--encoding", "nope", "not a known text encoding"),
])
def test_nonsensical_config_values(capsys, tmp_path, option, value, fragment):
    code, _, err = run_cli(capsys, "train", "--out", str(tmp_path / "r"), option, value)
    assert code == 2 and fragment in err and err.count("\n") == 1


def test_debug_shows_the_traceback(tmp_path):
    from edgelstm.core.errors import ConfigError

    with pytest.raises(ConfigError):
        main(["--debug", "train", "--out", str(tmp_path / "r"), "--epochs", "0"])


def test_evaluate_refuses_what_is_not_a_run(capsys, tmp_path):
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "model.keras").write_text("x")
    code, _, err = run_cli(capsys, "evaluate", str(tmp_path / "half"))
    assert code == 2 and "lacks tokenizer.json" in err


def test_train_help_lists_examples(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    assert "edgelstm train --data synthetic --out out/demo/run" in capsys.readouterr().out


def test_parsing_train_and_evaluate_needs_no_tensorflow():
    """`edgelstm --help` and argument errors must start fast: TensorFlow loads inside `run` only."""
    code = ("import sys; sys.modules['tensorflow'] = None; sys.modules['keras'] = None\n"
            "from edgelstm.main import build_parser, main\n"
            "build_parser().parse_args(['train', '--out', 'x', '--epochs', '2'])\n"
            "build_parser().parse_args(['evaluate', 'x', '--json'])\n"
            "assert main(['train', '--out', 'x', '--epochs', '0']) == 2\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "epochs=0 is out of range" in result.stderr
