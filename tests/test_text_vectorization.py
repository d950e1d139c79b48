"""A Keras model that takes raw strings: `Input(shape=(1,), dtype="string") -> TextVectorization ->
Embedding -> LSTM -> Dense`, exported as a model file (edgelstm.export.text_vectorization).

The bundle's tokenizer is the layer's (vocabulary, rule keras-text-vectorization-v1, ids padded
and truncated at the end); on raw text `Classifier` and `edgelstm predict` give what the user's
own model gives on the same strings. Settings the runtime cannot reproduce are refused by name.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from edgelstm.core.errors import ExportError
from edgelstm.core.variants import VARIANTS
from edgelstm.export.mobile_tokenizer import why_not_expressible
from edgelstm.export.model_file import ModelFile, text_vectorization_tokenizer
from edgelstm.runtime.standardize import RULE_TEXT_VECTORIZATION

pytestmark = pytest.mark.slow

MAXLEN = 10
ADAPT_TEXTS = ["The film was great, and the acting wonderful!", "A boring plot; I didn't like the ending.",
               "Café crème in the film, été and ÉTÉ", "The music was great, the story was not",
               "straße ΣΊΣΥΦΟΣ naïve", "I loved it: the best film of the year", "bad, bad, bad acting"]
# Punctuation, apostrophes, upper case, non-ASCII (which tf.strings.lower leaves as it is), the
# Unicode spaces TensorFlow does not split at, markup, nothing at all, and texts longer than MAXLEN.
RAW_TEXTS = ["THE FILM WAS GREAT!!!", "I didn't like the ending... at all", "Café CRÈME; été, ÉTÉ and Été",
             "the\tmusic\nwas\x0bgreat\x0cthe\rstory", "the\u00a0film and\u2003the story", "<br />the film<br/>was",
             "", "!!! ...", "STRASSE straße ΣΊΣΥΦΟΣ NAÏVE naïve",
             "the best film of the year and the music was great and the story was not bad at all",
             "bad " * 30 + "wonderful"]
VARIANTS_BUILT = ("onnx-fp32", "tflite-fp32")


def _model(keras, vectorizer, rows: int = 64, *, mask_zero: bool = False):  # noqa: ANN001, ANN202 - Keras objects
    keras.utils.set_random_seed(5)
    inputs = keras.Input(shape=(1,), dtype="string")
    x = keras.layers.Embedding(rows, 8, mask_zero=mask_zero)(vectorizer(inputs))
    x = keras.layers.LSTM(8)(x)
    return keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(x))


@pytest.fixture(scope="module")
def own(tmp_path_factory: pytest.TempPathFactory) -> dict:
    keras = pytest.importorskip("keras", reason="building the model needs Keras")
    tf = pytest.importorskip("tensorflow")
    folder = tmp_path_factory.mktemp("text-vectorization")
    vectorizer = keras.layers.TextVectorization(max_tokens=48, output_sequence_length=MAXLEN)
    vectorizer.adapt(ADAPT_TEXTS)
    model = _model(keras, vectorizer)
    model.save(folder / "strings.keras")
    expected = model(tf.constant([[text] for text in RAW_TEXTS])).numpy().reshape(-1)
    (folder / "gate.txt").write_text("\n".join(ADAPT_TEXTS) + "\n", encoding="utf-8")
    return {"folder": folder, "model": folder / "strings.keras", "expected": expected,
            "vectorizer": vectorizer, "ids": vectorizer(tf.constant(RAW_TEXTS)).numpy(), "keras": keras}


def test_the_runtime_tokenizer_gives_the_layers_ids(own: dict) -> None:
    from edgelstm.export import text_vectorization

    settings = text_vectorization.settings(own["vectorizer"])
    tokenizer = text_vectorization_tokenizer(settings)
    assert (tokenizer.rule, tokenizer.padding, tokenizer.truncating) == (RULE_TEXT_VECTORIZATION, "post", "post")
    assert {"été", "ÉtÉ"} <= set(tokenizer.words)  # ASCII-only lower case: two words, two ids
    np.testing.assert_array_equal(tokenizer.encode(RAW_TEXTS), own["ids"])
    again = type(tokenizer).from_dict(json.loads(json.dumps(tokenizer.to_dict())))
    np.testing.assert_array_equal(again.encode(RAW_TEXTS), own["ids"])
    reason = why_not_expressible(tokenizer)
    assert reason and "don't" in reason and "\n" not in reason  # no mobile variant, and it says why


def test_export_verify_and_predict_give_the_users_model_on_raw_text(own: dict, capsys: pytest.CaptureFixture) -> None:
    from edgelstm.main import main
    from edgelstm.runtime import Classifier
    from edgelstm.runtime.verify import verify_bundle

    out = own["folder"] / "bundle"
    assert main(["export", str(own["model"]), "--texts", str(own["folder"] / "gate.txt"), "--label-names", "neg,pos",
                 "--out", str(out), "--variants", ",".join(VARIANTS_BUILT)]) == 0
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert (manifest["task"]["padding"], manifest["task"]["truncating"], manifest["task"]["maxlen"]) == ("post",
                                                                                                       "post", MAXLEN)
    record = manifest["source_run"]["config"]["imported"]
    assert record["tokenizer"] == "the TextVectorization layer of strings.keras"
    assert record["text_vectorization"]["standardize"] == "lower_and_strip_punctuation"
    assert record["text_vectorization"]["output_sequence_length"] == MAXLEN
    assert json.loads((out / "tokenizer.json").read_text(encoding="utf-8"))["standardize"] == RULE_TEXT_VECTORIZATION
    assert verify_bundle(out).passed
    for variant in VARIANTS_BUILT:
        bound = VARIANTS[variant].tolerance.max_abs_diff
        backends = ("onnxruntime", "numpy") if variant.startswith("onnx") else ("litert",)
        for backend in backends:
            for fast_path in (True, False):
                with Classifier.load(out, variant=variant, backend=backend, fast_path=fast_path) as model:
                    got = np.asarray(model.predict_proba(RAW_TEXTS), np.float32)
                    one = [float(model.predict_proba([text])[0]) for text in RAW_TEXTS]  # the batch-1 lane
                np.testing.assert_allclose(got, own["expected"], atol=bound, rtol=0,
                                           err_msg=f"{variant} on {backend}, fast path {fast_path}")
                np.testing.assert_allclose(one, own["expected"], atol=bound, rtol=0)
    capsys.readouterr()
    assert main(["predict", str(out), "--variant", "onnx-fp32", "--json", *RAW_TEXTS[:3]]) == 0
    printed = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    np.testing.assert_allclose([row["score"] for row in printed], own["expected"][:3], atol=1e-4, rtol=0)


def test_a_masked_embedding_after_the_layer_skips_its_trailing_padding(own: dict, tmp_path: Path) -> None:
    """TextVectorization pads after the text; the masked embedding's mask-free graph finds the
    real ids wherever the padding is (export/keras_model.py), so every variant gives Keras' answer."""
    from edgelstm.main import main
    from edgelstm.runtime import Classifier

    tf = pytest.importorskip("tensorflow")
    model = _model(own["keras"], own["vectorizer"], mask_zero=True)
    model.save(tmp_path / "masked.keras")
    expected = model(tf.constant([[text] for text in RAW_TEXTS])).numpy().reshape(-1)
    out = tmp_path / "bundle"
    assert main(["export", str(tmp_path / "masked.keras"), "--texts", str(own["folder"] / "gate.txt"),
                 "--label-names", "neg,pos", "--out", str(out), "--variants", ",".join(VARIANTS_BUILT)]) == 0
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["source_run"]["architecture"]["mask_zero"] is True and manifest["task"]["padding"] == "post"
    for variant, backend in (("onnx-fp32", "onnxruntime"), ("onnx-fp32", "numpy"), ("tflite-fp32", "litert")):
        with Classifier.load(out, variant=variant, backend=backend) as classifier:
            got = np.asarray(classifier.predict_proba(RAW_TEXTS), np.float32)
        np.testing.assert_allclose(got, expected, atol=VARIANTS[variant].tolerance.max_abs_diff, rtol=0,
                                   err_msg=f"{variant} on {backend}")


def test_the_run_keeps_a_model_that_takes_ids(own: dict, tmp_path: Path) -> None:
    from edgelstm.core import rundir
    from edgelstm.export.model_file import write_run

    source = ModelFile(model=own["model"], label_names=("neg", "pos"))
    run = rundir.read_run(write_run(source, tmp_path, log=lambda line: None))
    model = own["keras"].saving.load_model(run.model_path, compile=False)
    assert model.inputs[0].dtype == "int32" and tuple(model.inputs[0].shape) == (None, MAXLEN)
    assert not any(type(layer).__name__ == "TextVectorization" for layer in model.layers)
    np.testing.assert_allclose(model.predict(own["ids"], verbose=0).reshape(-1), own["expected"], atol=1e-6)


@pytest.mark.parametrize("option, value, named", [
    ("output_sequence_length", None, "without output_sequence_length"),
    ("standardize", "lower", "standardize='lower'"),
    ("split", "character", "split='character'"),
    ("ngrams", 2, "ngrams=2"),
    ("standardize", lambda text: text, "standardize=a custom callable"),
])
def test_settings_the_runtime_cannot_reproduce_are_refused(own: dict, option: str, value: object, named: str) -> None:
    from edgelstm.export import text_vectorization

    options = {"max_tokens": 48, "output_sequence_length": MAXLEN, option: value}
    layer = own["keras"].layers.TextVectorization(**options)
    layer.adapt(ADAPT_TEXTS)
    with pytest.raises(ExportError, match="export accepts TextVectorization|export needs a fixed length") as caught:
        text_vectorization.settings(layer)
    assert named in str(caught.value) and "\n" not in str(caught.value)


def test_a_tokenizer_option_beside_the_layer_is_refused(own: dict, tmp_path: Path) -> None:
    from edgelstm.core.errors import ConfigError

    vocabulary = tmp_path / "vocab.txt"
    vocabulary.write_text("film\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="has a TextVectorization layer, which is its tokenizer: leave out --vocabulary"):
        ModelFile(model=own["model"], vocabulary=vocabulary, label_names=("neg", "pos"))


def test_the_web_pages_tokenizer_gives_the_layers_ids(own: dict, tmp_path: Path) -> None:
    """web/static/tokenizer.js (the page's ONNX client) under node, on the same texts: the layer's ids."""
    import shutil
    import subprocess

    from edgelstm.export import text_vectorization
    from edgelstm.web.unicode_tables import tables

    node = shutil.which("node")
    if node is None:
        pytest.skip("needs node")
    tokenizer = text_vectorization_tokenizer(text_vectorization.settings(own["vectorizer"]))
    source = Path(__file__).resolve().parents[1] / "web" / "static" / "tokenizer.js"
    shutil.copyfile(source, tmp_path / "tokenizer.mjs")
    (tmp_path / "input.json").write_text(json.dumps({"tokenizer": {**tokenizer.to_dict(), "tables": tables()},
                                                     "texts": RAW_TEXTS}, ensure_ascii=False), encoding="utf-8")
    script = ("import {Tokenizer} from './tokenizer.mjs'; import {readFileSync} from 'node:fs';"
              "const data = JSON.parse(readFileSync('input.json', 'utf8')); const t = new Tokenizer(data.tokenizer);"
              "console.log(JSON.stringify(data.texts.map((text) => Array.from(t.encode(text)))));")
    done = subprocess.run([node, "--input-type=module", "-e", script], cwd=tmp_path, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == own["ids"].tolist()
