"""Session fixtures shared by every stage's tests: one tiny trained run, one bundle of all six variants.

Both are real (Keras training, TFLite/ONNX conversion, device interpreters) and
built once per session; tests that change them work on a copy.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

# Small enough to train in about a minute on a shared 2-core machine, big enough to learn the
# synthetic corpus, so quantized variants have clear
# margins: the gate's 500 held-out texts make one flipped label 0.2 accuracy points. 64 tokens hold
# a whole review of the corpus (at 48 the cue of a distant review is cut off); 400 words
# hold its everyday words. A vocabulary of 400 x 8 puts the embedding above the
# 1024-element threshold under which TFLite's dynamic-range quantization leaves weights in float.
# 5,000 reviews: the model converges (validation 95-96 % from epoch 6 on, measured on an AVX2 CPU
# without AVX-512) whatever the CPU's float kernels. With 2,500 it was still climbing at epoch 10,
# and where it stopped depended on the CPU: about 90 % on one CI machine, 78.2 % on another, where
# the int8 variants of so unsure a model then failed their label-agreement bound.
TINY = dict(data="synthetic", vocab_size=400, maxlen=64, embedding_dim=8, lstm_units=8, epochs=10,
            batch_size=32, learning_rate=1e-2, early_stopping_patience=0, synthetic_size=5000,
            calibration_size=64, seed=0, dropout=0.0, l2=0.0,
            # Its own recipe, not the IMDB defaults (constant rate, no clipping, best epoch kept), so
            # every export test's model stays the one its margins were measured on.
            learning_rate_schedule="constant", clipnorm=None, embedding_dropout=0.0, restore_best=True)


@pytest.fixture(scope="session")
def tiny_recipe() -> dict:
    """TINY as a fixture, for tests that train a variation of it (another cell, more layers)."""
    return dict(TINY)


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run directory (docs/contracts.md) trained on the built-in synthetic corpus."""
    from edgelstm.train.config import TrainConfig
    from edgelstm.train.fit import train

    return train(TrainConfig(**TINY), tmp_path_factory.mktemp("tiny") / "run", verbose=0)


@pytest.fixture(scope="session")
def tiny_bundle(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """All six variants of `tiny_run`, each passed its parity gate. Treat as read-only.

    Where TensorFlow is absent (the emulated Pi, .venv-tflite), EDGELSTM_TEST_BUNDLE names a
    bundle exported elsewhere; without it the tests that need a bundle skip.
    """
    prebuilt = os.environ.get("EDGELSTM_TEST_BUNDLE")
    if prebuilt:
        return Path(prebuilt)
    pytest.importorskip("tensorflow", reason="exporting the tiny bundle needs TensorFlow; "
                        "set EDGELSTM_TEST_BUNDLE to a bundle exported elsewhere")
    from edgelstm.export.pipeline import export_run

    tiny_run = request.getfixturevalue("tiny_run")
    return export_run(tiny_run, tmp_path_factory.mktemp("tiny-bundle") / "bundle", log=lambda line: None)


@pytest.fixture()
def bundle_copy(tmp_path: Path, tiny_bundle: Path) -> Path:
    """A private copy of `tiny_bundle` that a test may damage."""
    return Path(shutil.copytree(tiny_bundle, tmp_path / "bundle"))


@pytest.fixture(scope="session")
def imdb_sample() -> tuple[list[str], dict[str, int]]:
    """The 2,500 real reviews of the IMDB sample and Keras' word index, read-only from ../shared/data/imdb/
    (or $EDGELSTM_IMDB_DIR); the tests that need them skip, saying so, where they are absent."""
    import csv
    import gzip
    import json

    folder = Path(os.environ.get("EDGELSTM_IMDB_DIR") or Path(__file__).resolve().parents[1].parent / "shared" / "data" / "imdb")
    sample, index = folder / "imdb_train_sample2500.csv.gz", folder / "imdb_word_index.json"
    if not (sample.is_file() and index.is_file()):
        pytest.skip(f"IMDB sample or word index not found in {folder} (set EDGELSTM_IMDB_DIR)")
    with gzip.open(sample, "rt", encoding="utf-8", newline="") as handle:
        texts = [row["text"] for row in csv.DictReader(handle)]
    return texts, json.loads(index.read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def npm_packages():  # noqa: ANN201 - edgelstm.web.npm.NpmPackages
    """The web page's npm packages (`make install` runs npm ci); the browser tests skip without them."""
    from edgelstm.core.errors import EdgeLSTMError
    from edgelstm.web import npm

    try:
        return npm.find_packages(install=False)
    except EdgeLSTMError as error:
        pytest.skip(f"the page's npm packages are not installed ({error}); `make install` runs npm ci")


@pytest.fixture(scope="session")
def browser_tools(npm_packages):  # noqa: ANN001, ANN201 - the packages above; edgelstm.web.browser's tools
    """Chromium and node to drive the page with; the browser tests skip without them."""
    from edgelstm.core.errors import EdgeLSTMError
    from edgelstm.web.browser import find_tools

    try:
        return find_tools(npm_packages)
    except EdgeLSTMError as error:
        pytest.skip(f"no browser to test the page in: {error}")
