"""The embedding model as an int8 ONNX graph, exported once from the packaged weights.

The first use exports the sentence-transformers model at `path` (its Transformer module) to ONNX
with PyTorch, fuses BERT's attention, layer norms and GELU with onnxruntime's transformer
optimiser, quantises the weights of its matrix products to 8 bits (dynamic quantisation: the
activations are quantised per batch at run time), checks the result against the PyTorch model,
and keeps it under the model cache directory. Later runs load it with onnxruntime alone: neither
torch nor sentence-transformers is imported, and the model's own `tokenizer.json` and pooling
settings do what sentence-transformers would do around the transformer.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import importlib.util
import json
import logging
import os
import shutil
import sys
import tempfile
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import click
import numpy as np

BACKEND_ENV = "IMR_SEARCH_EMBEDDING_BACKEND"
MODEL_CACHE_ENV = "IMR_SEARCH_MODEL_CACHE"
TORCH = "torch"
ONNX_INT8 = "onnx-int8"
BACKENDS = (TORCH, ONNX_INT8)

#: How the graph is made; a change here must change this name, which is part of the cache keys.
#: u8s8r7: unsigned 8-bit activations, signed weights in 7 bits ("reduce_range"). On AVX2 CPUs
#: without VNNI, u8s8 runs on the fast vpmaddubsw path, whose 16-bit sums saturate with full
#: 8-bit weights; 7 bits avoid that. Measured on this project's AMD EPYC (AVX2, no VNNI): 1.3x
#: the speed of u8u8 at about the same accuracy. Per channel: one scale per weight column.
RECIPE = "fused-u8s8r7-perchannel-v1"
#: Least cosine between the int8 and the PyTorch vectors of the check texts for an export to pass.
MIN_CHECK_COSINE = 0.98

_CHECK_TEXTS = [
    "Diazepam 5 mg is not medically necessary for this injured worker.",
    "MRI",
    "The request for physical therapy, 12 sessions, for the cervical spine is upheld. "
    "Guidelines recommend up to 10 visits over 8 weeks for myalgia and myositis, "
    "fading treatment frequency, plus active self-directed home physical medicine.",
]
_SUPPORTED_POOLING = ("mean", "cls", "max")
_SUPPORTED_MODULES = {"Transformer", "Pooling", "Normalize"}


def onnx_installed() -> bool:
    """Whether onnxruntime and onnx are importable (checked without importing them)."""
    return all(importlib.util.find_spec(name) is not None for name in ("onnxruntime", "onnx"))


def model_cache_dir() -> Path:
    """Return where exported models live: IMR_SEARCH_MODEL_CACHE, or ~/.cache/imr-search/models."""
    configured = os.environ.get(MODEL_CACHE_ENV)
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "imr-search" / "models"


def _modules(path: Path) -> list[dict[str, Any]]:
    modules = path / "modules.json"
    if not modules.is_file():
        # A plain Hugging Face model directory: sentence-transformers adds mean pooling.
        return [{"type": "Transformer", "path": ""}, {"type": "Pooling", "path": None}]
    entries = json.loads(modules.read_text())
    return [
        {"type": str(e.get("type", "")).rsplit(".", 1)[-1], "path": e.get("path")} for e in entries
    ]


def _pooling_mode(path: Path) -> str:
    """Return the pooling of the model at `path` ("mean", "cls", "max", or what it is instead)."""
    pooling = next((m for m in _modules(path) if m["type"] == "Pooling"), None)
    if pooling is None or pooling["path"] is None:
        return "mean"
    config = json.loads((path / pooling["path"] / "config.json").read_text())
    if config.get("pooling_mode"):
        return str(config["pooling_mode"])
    chosen = [
        name.removeprefix("pooling_mode_").removesuffix("_token").removesuffix("_tokens")
        for name, on in config.items()
        if name.startswith("pooling_mode_") and on is True
    ]
    return chosen[0] if len(chosen) == 1 else "+".join(chosen) or "none"


def unsupported_reason(path: Path) -> str | None:
    """Why the model at `path` cannot run on the ONNX backend, or None when it can."""
    try:
        modules = _modules(path)
        pooling = _pooling_mode(path)
    except (OSError, ValueError) as exc:
        return f"cannot read its module settings ({type(exc).__name__}: {exc})"
    extra = sorted({m["type"] for m in modules} - _SUPPORTED_MODULES)
    if extra:
        return f"it has modules the ONNX backend does not run: {', '.join(extra)}"
    if [m for m in modules if m["type"] == "Transformer"] != [modules[0]]:
        return "its first and only transformer module is not where the ONNX backend expects it"
    if modules[0]["path"]:
        return "its transformer is in a subdirectory"
    if pooling not in _SUPPORTED_POOLING:
        return f"its pooling ({pooling}) is not one of {', '.join(_SUPPORTED_POOLING)}"
    return None


def resolve_backend(model: Path, requested: str | None = None) -> str:
    """Return the backend to embed with: `requested`, else IMR_SEARCH_EMBEDDING_BACKEND, else
    onnx-int8 when onnxruntime and onnx are installed and the model suits it, else torch."""
    raw = requested if requested is not None else os.environ.get(BACKEND_ENV, "")
    value = raw.strip().lower()
    if value in ("", "auto"):
        if onnx_installed() and unsupported_reason(model) is None:
            return ONNX_INT8
        return TORCH
    if value not in BACKENDS:
        raise click.ClickException(
            f"{BACKEND_ENV}={raw!r} is not an embedding backend: use one of {', '.join(BACKENDS)}"
            " (or leave it unset for onnx-int8 when onnxruntime is installed)"
        )
    if value == ONNX_INT8:
        if not onnx_installed():
            raise click.ClickException(
                f"{BACKEND_ENV}=onnx-int8 needs onnxruntime and onnx: pip install onnxruntime "
                f"onnx, or set {BACKEND_ENV}=torch"
            )
        reason = unsupported_reason(model)
        if reason:
            raise click.ClickException(
                f"the model at {model} cannot run on the onnx-int8 backend: {reason}; "
                f"set {BACKEND_ENV}=torch"
            )
    return value


# -- export ---------------------------------------------------------------------------------


def exported_dir(model: Path, identity: str) -> Path:
    """Return the directory that holds (or will hold) the int8 export of the model.

    Its name has the model's identity, the recipe, and a digest of where the model's files are,
    their sizes and times: a model changed in place (same config, new weights) gets a new export.
    """
    digest = hashlib.sha256(str(model.resolve()).encode())
    for path in sorted(model.iterdir()):
        if path.is_file():
            stat = path.stat()
            digest.update(f"{path.name}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return model_cache_dir() / f"{identity}-{digest.hexdigest()[:8]}-onnx-int8-{RECIPE}"


def _is_complete(directory: Path) -> bool:
    return (directory / "manifest.json").is_file() and (directory / "model.onnx").is_file()


def ensure_exported(model: Path, identity: str) -> Path:
    """Return the int8 ONNX file of the model, exporting it first if no process has yet.

    The export is written to a temporary directory beside its final place and renamed into
    place, so a reader never sees half an export; a lock file makes concurrent processes wait
    for the first one instead of exporting again. A cache directory that cannot be written
    gets a per-process export in a temporary directory, with a warning.
    """
    final = exported_dir(model, identity)
    if _is_complete(final):
        return final / "model.onnx"
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        lock = open(final.parent / f".{final.name}.lock", "a+b")  # noqa: SIM115 - held below
    except OSError as exc:
        sys.stderr.write(
            f"imr-search: warning: cannot write the model cache {final.parent} "
            f"({type(exc).__name__}: {exc}); exporting the int8 model for this process only "
            f"(set {MODEL_CACHE_ENV} to a writable directory to keep it)\n"
        )
        scratch = Path(tempfile.mkdtemp(prefix="imr-search-onnx-"))
        # onnxruntime reads the file when the session is made; the copy goes when we exit.
        atexit.register(shutil.rmtree, scratch, True)
        _export(model, scratch)
        return scratch / "model.onnx"
    with lock:
        import fcntl

        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        try:
            if _is_complete(final):
                return final / "model.onnx"
            # Holding the lock, any temporary export of this model is a dead process's leftover.
            for leftover in final.parent.glob(f".{final.name}.tmp-*"):
                shutil.rmtree(leftover, ignore_errors=True)
            if final.exists():  # an incomplete directory, made by hand or damaged
                shutil.rmtree(final)
            scratch = Path(tempfile.mkdtemp(prefix=f".{final.name}.tmp-", dir=final.parent))
            try:
                scratch.chmod(0o755)  # mkdtemp's 0700 would hide the export from other users
                _export(model, scratch)
                os.replace(scratch, final)
            finally:
                shutil.rmtree(scratch, ignore_errors=True)
        finally:
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)
    return final / "model.onnx"


def _export(model: Path, out: Path) -> None:
    """Export, fuse, quantise and check the model at `model` into the directory `out`."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        import onnx
        import onnxruntime
        import torch
        import transformers
        from onnxruntime.quantization import QuantType, quantize_dynamic
        from transformers import AutoConfig, AutoModel
        from transformers.utils import logging as hf_logging
    except ImportError as exc:
        raise click.ClickException(
            f"cannot export the int8 model: {exc} (pip install onnxruntime onnx)"
        ) from None

    config = AutoConfig.from_pretrained(str(model), local_files_only=True)
    bars_were_on = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        # Eager attention traces to the plain graph that onnxruntime's fusion recognises.
        transformer = AutoModel.from_pretrained(
            str(model), local_files_only=True, attn_implementation="eager"
        ).eval()
    finally:
        if bars_were_on:
            hf_logging.enable_progress_bar()

    import inspect

    takes_types = "token_type_ids" in inspect.signature(transformer.forward).parameters
    names = ["input_ids", "attention_mask"] + (["token_type_ids"] if takes_types else [])

    class _Body(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.transformer = transformer

        def forward(self, *inputs: Any) -> Any:
            return self.transformer(**dict(zip(names, inputs, strict=True))).last_hidden_state

    sample = tuple(torch.ones(2, 8, dtype=torch.long) for _ in names)
    axes = {name: {0: "batch", 1: "tokens"} for name in [*names, "last_hidden_state"]}
    fp32 = out / "fp32.onnx"
    with warnings.catch_warnings(), torch.no_grad():
        # The tracer warns about Python-level checks of shapes; the check below proves the
        # graph right for padded batches of any length.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            _Body().eval(),
            sample,
            str(fp32),
            input_names=names,
            output_names=["last_hidden_state"],
            dynamic_axes=axes,
            opset_version=17,
            dynamo=False,
            do_constant_folding=True,
        )

    fused = out / "fused.onnx"
    if getattr(config, "model_type", "") == "bert":
        from onnxruntime.transformers.optimizer import optimize_model

        with contextlib.redirect_stdout(sys.stderr):
            optimized = optimize_model(
                str(fp32),
                model_type="bert",
                num_heads=int(config.num_attention_heads),
                hidden_size=int(config.hidden_size),
                opt_level=1,
            )
        optimized.save_model_to_file(str(fused))
    else:
        shutil.copyfile(fp32, fused)

    # The quantiser logs advice about pre-processing on the root logger; it does not apply here.
    root_logger = logging.getLogger()
    level = root_logger.level
    root_logger.setLevel(logging.ERROR)
    try:
        quantize_dynamic(
            str(fused),
            str(out / "model.onnx"),
            op_types_to_quantize=["MatMul", "Attention"],
            per_channel=True,
            reduce_range=True,
            weight_type=QuantType.QInt8,
            # Shape inference cannot see through the fused (com.microsoft) operators.
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
        )
    finally:
        root_logger.setLevel(level)

    # The check: the int8 graph, fed a padded batch, against the PyTorch model itself.
    pooling = _pooling_mode(model)
    runner = OnnxEncoder(model, out / "model.onnx", threads=1)
    got = runner.encode(_CHECK_TEXTS)
    fp32_runner = OnnxEncoder(model, fp32, threads=1)
    got_fp32 = fp32_runner.encode(_CHECK_TEXTS, batch_size=len(_CHECK_TEXTS))
    with torch.no_grad():
        enc = runner.tokenize_padded(_CHECK_TEXTS)
        inputs = {k: torch.from_numpy(v) for k, v in enc.items() if k in names}
        hidden = transformer(**inputs).last_hidden_state.numpy()
    want = _pool(hidden, enc["attention_mask"], pooling)
    cos_fp32 = float(np.min(np.sum(got_fp32 * want, axis=1)))
    cos_int8 = float(np.min(np.sum(got * want, axis=1)))
    del runner, fp32_runner
    if cos_fp32 < 0.9999 or cos_int8 < MIN_CHECK_COSINE:
        raise click.ClickException(
            f"the ONNX export of {model} does not match the PyTorch model (least cosine: fp32 "
            f"{cos_fp32:.5f}, int8 {cos_int8:.5f}); set {BACKEND_ENV}=torch"
        )
    fp32.unlink()
    fused.unlink()
    manifest = {
        "recipe": RECIPE,
        "source": str(model.resolve()),
        "quantization": {
            "mode": "dynamic",
            "weights": "int8, 7 bits (reduce_range)",
            "activations": "uint8",
            "per_channel": True,
            "reduce_range": True,
            "operators": ["MatMul", "Attention"],
        },
        "pooling": pooling,
        "check_least_cosine": {"fp32": round(cos_fp32, 6), "int8": round(cos_int8, 6)},
        "versions": {
            "onnxruntime": onnxruntime.__version__,
            "onnx": onnx.__version__,
            "torch": torch.__version__,
            "transformers": transformers.__version__,
        },
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")


# -- inference ------------------------------------------------------------------------------


def _pool(hidden: np.ndarray, mask: np.ndarray, mode: str) -> np.ndarray:
    """Pool token vectors (batch, tokens, dims) into normalised sentence vectors."""
    hidden = hidden.astype(np.float32, copy=False)
    if mode == "cls":
        vectors = hidden[:, 0]
    elif mode == "max":
        vectors = np.where(mask[..., None] > 0, hidden, -1e9).max(axis=1)
    else:
        weights = mask[..., None].astype(np.float32)
        vectors = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


def _cpu_count() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


class OnnxEncoder:
    """Runs an exported graph: tokenizes as sentence-transformers does, pools, normalises.

    Each text runs alone (a batch of one): no padding, and, since dynamic quantisation scales
    the activations of a whole batch together, a text's vector then depends on that text only,
    never on its neighbours in a call. The CPUs are used by running texts in parallel, one per
    thread, on a session of one thread each: on this project's 2-core machine that is 1.2x to
    1.4x the speed of padded batches of 32 on a 2-thread session.
    """

    def __init__(self, model: Path, graph: Path, *, threads: int | None = None) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self._tok = Tokenizer.from_file(str(model / "tokenizer.json"))
        config = model / "sentence_bert_config.json"
        max_len = json.loads(config.read_text()).get("max_seq_length") if config.is_file() else None
        self.max_tokens = int(max_len or 256)
        # tokenizer.json may carry its own (shorter) truncation; the model's window rules.
        self._tok.no_padding()
        self._tok.enable_truncation(max_length=self.max_tokens)
        pad = self._tok.token_to_id("[PAD]")
        self._pad_id = int(pad) if pad is not None else 0
        self._pooling = _pooling_mode(model)
        #: Texts embedded at once, each on its own thread.
        self.workers = threads or _cpu_count()

        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        self._session = ort.InferenceSession(
            str(graph), options, providers=["CPUExecutionProvider"]
        )
        self._inputs = {i.name for i in self._session.get_inputs()}
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()
        dims = self._session.get_outputs()[0].shape[-1]
        self.dims: int | None = dims if isinstance(dims, int) else None

    def tokenize_padded(self, texts: list[str]) -> dict[str, np.ndarray]:
        """Return the model inputs of `texts` as one batch padded to its longest text."""
        return self._pad([e.ids for e in self._tok.encode_batch(texts)])

    def _pad(self, ids: list[list[int]]) -> dict[str, np.ndarray]:
        width = max(len(row) for row in ids)
        input_ids = np.full((len(ids), width), self._pad_id, dtype=np.int64)
        mask = np.zeros((len(ids), width), dtype=np.int64)
        for i, row in enumerate(ids):
            input_ids[i, : len(row)] = row
            mask[i, : len(row)] = 1
        batch = {"input_ids": input_ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            batch["token_type_ids"] = np.zeros_like(input_ids)
        return batch

    def _run(self, ids: list[list[int]]) -> np.ndarray:
        batch = self._pad(ids)
        feed = {name: value for name, value in batch.items() if name in self._inputs}
        hidden = self._session.run(None, feed)[0]  # releases the GIL while it computes
        return _pool(hidden, batch["attention_mask"], self._pooling)

    def _executor(self) -> ThreadPoolExecutor:
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="imr-embed")
            return self._pool

    def encode(self, texts: list[str], batch_size: int = 1) -> np.ndarray:
        """Return the normalised float32 vectors of `texts`, in order, shape (len, dims).

        `batch_size` above 1 pads texts into batches (as the export's check does); the
        default runs each text alone, in parallel.
        """
        if not texts:
            return np.empty((0, self.dims or 0), dtype=np.float32)
        ids = [e.ids for e in self._tok.encode_batch(texts)]
        # Longest first, so that no long text is left running alone at the end.
        order = sorted(range(len(texts)), key=lambda i: -len(ids[i]))
        groups = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
        if len(groups) == 1 or self.workers == 1:
            results = [self._run([ids[i] for i in rows]) for rows in groups]
        else:
            results = list(
                self._executor().map(lambda rows: self._run([ids[i] for i in rows]), groups)
            )
        out = np.empty((len(texts), results[0].shape[1]), dtype=np.float32)
        for rows, vectors in zip(groups, results, strict=True):
            out[rows] = vectors
        return out


def main() -> None:
    """Export the configured model (IMR_SEARCH_MODEL or the packaged one) ahead of first use."""
    from indexer.embedder import model_identity
    from indexer.model import model_path

    path = model_path()
    reason = unsupported_reason(path)
    if reason:
        raise click.ClickException(f"the model at {path} cannot run on onnx-int8: {reason}")
    print(ensure_exported(path, model_identity(path)))


if __name__ == "__main__":
    try:
        main()
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
