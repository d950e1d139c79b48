"""The web page in a real browser: headless Debian Chromium runs the bundle's page, offline.

The page is built by `edgelstm web` from the tiny bundle, served on 127.0.0.1 from a thread,
and driven by playwright-core (npm) with the system Chromium. It classifies the golden texts
with MediaPipe Tasks (@mediapipe/tasks-text, wasm from the page's own folder) and with
onnxruntime-web (the tokenizer in JavaScript); both must match the bundle's Keras outputs,
the MediaPipe scores must equal Python MediaPipe's, and the page must load nothing from
any other address. Skips, saying why, where Chromium, node or the npm packages are absent.
"""

from __future__ import annotations

import json
import shutil
import unicodedata
from pathlib import Path

import numpy as np
import pytest

from edgelstm.core.variants import BROWSER_VS_PYTHON_MAX_DIFF, VARIANTS
from edgelstm.runtime.bundle import Bundle
from edgelstm.runtime.standardize import RULE_CJK, RULE_V1
from edgelstm.runtime.tokenizer import Tokenizer, keras_imdb_words, standardize
from edgelstm.web.texts import golden_texts

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# Texts where JavaScript's toLowerCase, \s or \p{P} would tokenize otherwise than Python.
TRICKY_TEXTS = [
    "Straße STRASSE", "ΌΣΟΣ όσος", "MiXeD case", "ﬁne ﬀ", "Ｇｏｏｄ　ｆｉｌｍ", "İstanbul", "ǅemal",
    "Ꮎ ꮎ Cherokee", "a\u00a0b", "a\x1cb\x1dc\x1ed\x1ff", "a\u0085b", "zero\ufeffwidth", "Kelvin \u212a",
    "<BR/>line<br \u3000/>two<br>", "don't stop", "great!!!movie", "€5 £3 ^_^ 👍👍", "x\u2028y\u2029z",
    "constructor __proto__ toString", "", "   ", "e\u0301t\u00e9",
    # The CJK rule: each Chinese/Japanese character a word, beside Latin letters and punctuation too.
    "这部电影很好看", "film好的movie", "ﾃｽﾄ テスト、ひらがな。", "々〆〇 ㄅㄆ 𠀀𠀁", "漢字 and 한국어",
]


# The float32 mobile variant: held to the float32 bound against Keras.
FLOAT_MOBILE = "mobile-fp32"


@pytest.fixture(scope="session")
def page(tiny_bundle: Path, npm_packages, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The page of the tiny bundle, running its own mobile-fp32 (export makes it when mediapipe is installed)."""
    from edgelstm.web.page import build_page, mediapipe_variants

    out = tmp_path_factory.mktemp("web") / "page"
    variant = FLOAT_MOBILE if FLOAT_MOBILE in mediapipe_variants(Bundle.open(tiny_bundle)) else None
    return build_page(tiny_bundle, out, packages=npm_packages, mediapipe_variant=variant, log=lambda line: None)


def page_clients(page: Path) -> list[str]:
    return list(json.loads((page / "edgelstm-web.json").read_text())["clients"])


def needs_client(page: Path, client: str) -> None:
    if client not in page_clients(page):
        pytest.skip(f"the page has no {client} client: without mediapipe installed the bundle has no MediaPipe variant")


@pytest.fixture(scope="session")
def report(page: Path, tiny_bundle: Path, browser_tools, tmp_path_factory: pytest.TempPathFactory) -> dict:
    from edgelstm.web.browser import drive

    texts, _ = golden_texts(Bundle.open(tiny_bundle))
    shot = tmp_path_factory.mktemp("shot") / "page.png"
    result = drive(page, texts, clients=page_clients(page), tools=browser_tools, screenshot=shot)
    result["screenshot_path"] = shot
    assert "error" not in result, result["error"]
    return result


def browser_scores(report: dict, client: str) -> np.ndarray:
    return np.array([row["score"] for row in report["results"][client]], dtype=np.float64)


@pytest.mark.parametrize("client, variant", [("mediapipe", "tflite-fp32"), ("onnxruntime", "onnx-fp32")])
def test_browser_matches_the_bundles_keras_outputs(report: dict, tiny_bundle: Path, page: Path, client: str,
                                                   variant: str) -> None:
    """Every golden text, in the browser, gets the Keras probability within the float32 bound."""
    needs_client(page, client)
    texts, keras = golden_texts(Bundle.open(tiny_bundle))
    scores = browser_scores(report, client)
    assert scores.shape == keras.shape and np.all(np.isfinite(scores))
    labels = np.array([row["label"] for row in report["results"][client]])
    if client == "mediapipe":  # MediaPipe's RegexTokenizer has no NFKC or full case folding: the
        # case-and-width-forms edge case is tokenized unlike ours by design (tests/test_mobile.py counts it)
        case = case_and_width_text(Bundle.open(tiny_bundle))
        kept = np.array([text != case for text in texts])
        texts, keras, scores, labels = [t for t, k in zip(texts, kept) if k], keras[kept], scores[kept], labels[kept]
    variant = json.loads((page / "edgelstm-web.json").read_text())["clients"][client]["variant"] or variant
    bound = VARIANTS[variant].tolerance.max_abs_diff
    assert np.max(np.abs(scores - keras)) <= bound, f"{client}: max |dp| {np.max(np.abs(scores - keras)):.2e} > {bound}"
    assert list(labels) == [Bundle.open(tiny_bundle).labels[int(p >= 0.5)] for p in keras]


def case_and_width_text(bundle: Bundle) -> str | None:
    names = list(bundle.manifest.golden.edge_case_names)
    if "case-and-width-forms" not in names:
        return None
    return str(bundle.golden()["edge_texts"][names.index("case-and-width-forms")])


def test_browser_equals_python_mediapipe(report: dict, tiny_bundle: Path, page: Path) -> None:
    """The browser's MediaPipe (wasm) and Python's MediaPipe give the same scores from the same file."""
    pytest.importorskip("mediapipe", reason="the Python MediaPipe comparison needs mediapipe")
    needs_client(page, "mediapipe")
    from mediapipe.tasks.python import text
    from mediapipe.tasks.python.core.base_options import BaseOptions

    model = json.loads((page / "edgelstm-web.json").read_text())["clients"]["mediapipe"]["file"]
    options = text.TextClassifierOptions(base_options=BaseOptions(model_asset_path=str(page / model)))
    texts, _ = golden_texts(Bundle.open(tiny_bundle))
    label = Bundle.open(tiny_bundle).labels[1]
    with text.TextClassifier.create_from_options(options) as classifier:
        python = np.array([next(c.score for c in classifier.classify(t).classifications[0].categories
                                if c.category_name == label) for t in texts])
    diff = np.max(np.abs(browser_scores(report, "mediapipe") - python))
    assert diff <= BROWSER_VS_PYTHON_MAX_DIFF, f"browser vs Python MediaPipe: max |dp| {diff:.2e}"


def test_page_loads_only_from_its_own_folder(report: dict) -> None:
    """No CDN: every request goes to the page's server, none fails, the page logs no error."""
    assert report["requests"], "the driver saw no request"
    outside = [url for url in report["requests"] if not url.startswith(report["url"])]
    assert not outside, f"the page asked other addresses: {outside}"
    assert not report["failed"], report["failed"]
    assert not report["pageErrors"], report["pageErrors"]
    assert any(url.endswith(".wasm") for url in report["requests"])


def test_a_person_sees_the_label_and_score(report: dict, page: Path) -> None:
    """Typing the first text and pressing Classify shows the label the API gives, and its score."""
    first = report["results"][page_clients(page)[0]][0]
    assert report["shown"]["label"] == first["label"]
    assert f"{first['score']:.4f}" in report["shown"]["score"]
    assert report["screenshot_path"].stat().st_size > 0


def _naive_words(text: str, kind: str) -> list[str]:
    """What a port using toLowerCase and JavaScript's \\s would see: the forms the test must tell apart."""
    if kind == "keras-imdb":
        return keras_imdb_words(text.upper().lower())  # a full case mapping round trip, not Python's lower()
    text = unicodedata.normalize("NFKC", text).lower()
    kept = [c if c == "'" or unicodedata.category(c)[0] not in "PS" else " " for c in text]
    return "".join(kept).replace("\ufeff", " ").split()


def _tricky_tokenizer(kind: str) -> Tokenizer:
    """A vocabulary holding both the right words of TRICKY_TEXTS and the wrong forms, with different ids.

    kind: "keras-imdb", or a vocab rule (the vocab kind under that standardization rule).
    """
    rule = None if kind == "keras-imdb" else kind
    split = (lambda text: standardize(text, rule)) if rule else keras_imdb_words
    right = sorted({w for t in TRICKY_TEXTS for w in split(t) if w})
    naive = sorted({w for t in TRICKY_TEXTS for w in _naive_words(t, kind) if w} - set(right))
    if rule:
        assert naive, "no text tells a toLowerCase port apart: the test would prove nothing"
        return Tokenizer(kind="vocab", maxlen=12, vocab_size=len(right) + len(naive) + 2, words=right + naive,
                         rule=rule)
    index = {word: rank for rank, word in enumerate(right + naive, start=1)}
    return Tokenizer.from_keras_word_index(index, num_words=len(index) + 3 - 2, maxlen=12)  # the last 2 are OOV


@pytest.mark.parametrize("kind", [RULE_CJK, RULE_V1, "keras-imdb"])
def test_javascript_tokenizer_equals_python(page: Path, browser_tools, tmp_path: Path, kind: str) -> None:
    """The page's tokenizer.js, in Chromium, gives Python's ids for texts where JS and Python differ."""
    from edgelstm.web.browser import drive

    tokenizer = _tricky_tokenizer(kind)
    if kind == RULE_CJK:  # the characters must be words of the vocabulary, or the rule proves nothing
        assert {"这", "好", "テ", "ひ"} <= set(tokenizer.words)
    work = Path(shutil.copytree(page, tmp_path / "page"))
    tables = json.loads((work / "tokenizer-web.json").read_text())["tables"]
    (work / "tokenizer-web.json").write_text(json.dumps({**tokenizer.to_dict(), "tables": tables}, ensure_ascii=False))
    result = drive(work, TRICKY_TEXTS, clients=[], tools=browser_tools, encode=True)
    assert "error" not in result, result["error"]
    expected = tokenizer.encode(TRICKY_TEXTS).tolist()
    for text, js, py in zip(TRICKY_TEXTS, result["encoded"], expected):
        assert js == py, f"{text!r}: JavaScript {js} != Python {py}"


def test_javascript_tokenizer_refuses_a_newer_tokenizer_file(page: Path, browser_tools, tmp_path: Path) -> None:
    """A tokenizer file tokenizer.js cannot read exactly is refused by name, never tokenized another way."""
    from edgelstm.web.browser import drive

    work = Path(shutil.copytree(page, tmp_path / "page"))
    data = json.loads((work / "tokenizer-web.json").read_text())
    (work / "tokenizer-web.json").write_text(json.dumps({**data, "format_version": 4}, ensure_ascii=False))
    result = drive(work, ["a film"], clients=[], tools=browser_tools, encode=True)
    assert "format_version 4 is not supported" in json.dumps(result)


def test_web_verb_refuses_what_it_cannot_do(tiny_bundle: Path, tmp_path: Path, npm_packages) -> None:
    from edgelstm.__main__ import main

    out = tmp_path / "page"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    assert main(["web", str(tiny_bundle), "--out", str(out)]) == 2
    assert main(["web", str(tiny_bundle), "--out", str(out), "--force"]) == 2
    assert (out / "notes.txt").read_text() == "mine"
    assert main(["web", str(tiny_bundle), "--out", str(tmp_path / "p2"), "--variant", "nope"]) == 2
    assert main(["web", str(tmp_path / "missing"), "--out", str(tmp_path / "p3")]) == 2


def test_bench_gets_browser_rows(tiny_bundle: Path, browser_tools, tmp_path: Path) -> None:
    """`edgelstm bench` adds one row per page client, with latency, load time and parity figures."""
    from edgelstm.__main__ import main

    out = tmp_path / "bench"
    assert main(["bench", str(tiny_bundle), "--no-keras", "--no-plots", "--no-progress", "--runs", "2",
                 "--warmup", "1", "--variants", "onnx-fp32", "--out", str(out)]) == 0
    results = json.loads((out / "results.json").read_text())
    rows = [row for row in results["rows"] if row["kind"] == "browser"]
    assert rows, results["notes"]
    golden = results["inputs"]["golden_count"]
    for row in rows:
        assert row["backend"].startswith("chromium/") and row["status"] == "ok"
        assert row["latency"]["real"]["runs"] == golden - 1 and row["latency"]["real"]["p50_ms"] > 0
        assert row["timings"]["cold_start_s"] >= row["timings"]["load_s"] > 0
        assert row["parity"]["passed"] and row["parity"]["n"] == golden
        assert f"| {row['variant']} / {row['backend']} |" in (out / "results.md").read_text()


def test_onnx_client_feeds_every_state_of_a_stacked_gru(browser_tools, npm_packages, tiny_recipe: dict,
                                                        tmp_path: Path) -> None:
    """A GRU stack's ONNX model takes h0 and h0_layer1 (no c0): the page feeds each state it declares."""
    from edgelstm.export.pipeline import export_run
    from edgelstm.train.config import TrainConfig
    from edgelstm.train.fit import train
    from edgelstm.web.browser import drive
    from edgelstm.web.page import build_page

    run = train(TrainConfig(**{**tiny_recipe, "epochs": 2}, cell="gru", layers=2), tmp_path / "run", verbose=0)
    bundle = export_run(run, tmp_path / "bundle", variants=["onnx-fp32"], log=lambda line: None)
    states = [spec["name"] for spec in Bundle.open(bundle).variant("onnx-fp32").to_dict()["inputs"][1:]]
    assert states == ["h0", "h0_layer1"], states
    page = build_page(bundle, tmp_path / "page", packages=npm_packages, onnx=True, log=lambda line: None)
    texts, keras = golden_texts(Bundle.open(bundle))
    result = drive(page, texts[:40], clients=["onnxruntime"], tools=browser_tools)
    assert "error" not in result, result["error"]
    scores = np.array([row["score"] for row in result["results"]["onnxruntime"]], dtype=np.float64)
    assert np.max(np.abs(scores - keras[:40])) <= VARIANTS["onnx-fp32"].tolerance.max_abs_diff
