"""Where the int8 embedding model's time goes: onnxruntime's profile, per operator, on one core.

    python bench/embedding_profile.py [--letters DIR] [--chunks 30]

Runs the indexer's int8 ONNX graph (the default embedding backend) on one thread over the
longest sample chunks (240 word-pieces or more: the "256-token chunks" of #6), one chunk a run as
the indexer does, with onnxruntime's profiler on; prints the milliseconds per chunk of each kind
of operator and its share, and the rate of the matrix products in multiply-adds per second. Then
the same chunks through plain sentence-transformers on PyTorch (float32) on one thread, for the
rate its matrix products reach. The two rates bound what 8-bit arithmetic can gain on this CPU.
Nothing here runs in the test suite.
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# bench.indexing also keeps Hugging Face offline (HF_HUB_OFFLINE) before anything loads a model.
from bench.indexing import LONG_CHUNK, print_machine, read_chunks  # noqa: E402

#: onnxruntime's fused BERT operators, and what each of them computes.
_WHAT = {
    "DynamicQuantizeMatMul": "8-bit matrix products: attention output and feed-forward",
    "QAttention": "attention: 8-bit Q/K/V projection, float32 scores, softmax and mixing",
    "SkipLayerNormalization": "residual add and layer norm (float32)",
    "BiasGelu": "GELU activation (float32)",
    "EmbedLayerNormalization": "embeddings and their layer norm",
    "DynamicQuantizeLinear": "quantising activations to 8 bits",
}


def multiply_adds(config: dict, tokens: int) -> dict[str, float]:
    """Multiply-adds of one chunk of `tokens` tokens: weight products and attention scores."""
    hidden, inner, layers = (
        config["hidden_size"],
        config["intermediate_size"],
        config["num_hidden_layers"],
    )
    per_token = hidden * 3 * hidden + hidden * hidden + 2 * hidden * inner
    return {
        "qkv": layers * tokens * hidden * 3 * hidden,
        "output_and_ffn": layers * tokens * (hidden * hidden + 2 * hidden * inner),
        "weights": layers * tokens * per_token,
        "scores": layers * 2 * tokens * tokens * hidden,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--letters", type=Path, default=ROOT / "samples" / "letters")
    parser.add_argument("--chunks", type=int, default=30, help="long chunks to profile")
    args = parser.parse_args(argv)

    import onnxruntime as ort
    import torch
    from sentence_transformers import SentenceTransformer

    from indexer.embedder import model_identity
    from indexer.model import model_path
    from indexer.onnx_model import OnnxEncoder, ensure_exported

    print_machine()
    path = model_path()
    graph = ensure_exported(path, model_identity(path))
    encoder = OnnxEncoder(path, graph, threads=1)
    _, texts = read_chunks([args.letters])
    ids = [e.ids for e in encoder._tok.encode_batch(texts)]
    long_rows = [row for row in ids if len(row) >= LONG_CHUNK + 2][: args.chunks]
    if not long_rows:
        print(f"no chunk of {LONG_CHUNK} word-pieces or more under {args.letters}")
        return 1
    tokens = round(sum(len(r) for r in long_rows) / len(long_rows))
    config = json.loads((path / "config.json").read_text())
    macs = multiply_adds(config, tokens)
    print(f"\n{len(long_rows)} chunks of {tokens} tokens on average; {graph.parent.name}")

    with tempfile.TemporaryDirectory() as tmp:
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        options.enable_profiling = True
        options.profile_file_prefix = str(Path(tmp) / "ort")
        session = ort.InferenceSession(str(graph), options, providers=["CPUExecutionProvider"])
        names = {i.name for i in session.get_inputs()}
        for row in long_rows[:2]:  # warm-up, not counted below
            session.run(None, {k: v for k, v in encoder._pad([row]).items() if k in names})
        started = time.perf_counter()
        for row in long_rows:
            session.run(None, {k: v for k, v in encoder._pad([row]).items() if k in names})
        wall = (time.perf_counter() - started) * 1000 / len(long_rows)
        events = json.loads(Path(session.end_profiling()).read_text())
    per_op: collections.Counter[str] = collections.Counter()
    runs = 0
    for event in events:
        if event.get("cat") == "Session" and event.get("name") == "model_run":
            runs += 1
        if event.get("cat") == "Node" and event["name"].endswith("_kernel_time"):
            per_op[event["args"]["op_name"]] += event["dur"]
    scale = 1000 * runs  # microseconds over all runs -> milliseconds a chunk
    total = sum(per_op.values()) / scale
    print(f"\nonnx-int8, one thread: {wall:.1f} ms a chunk ({total:.1f} ms in operators)")
    for op, micros in per_op.most_common():
        ms = micros / scale
        print(f"  {op:<26} {ms:6.2f} ms  {100 * ms / total:5.1f}%  {_WHAT.get(op, '')}")
    int8_rate = macs["output_and_ffn"] / (per_op["DynamicQuantizeMatMul"] / scale / 1000) / 1e9
    print(
        f"  8-bit products (DynamicQuantizeMatMul): {macs['output_and_ffn'] / 1e9:.2f} G "
        f"multiply-adds a chunk at {int8_rate:.0f} G/s"
    )
    # The Q/K/V projection inside QAttention is 8-bit too: at the same rate, all weight products.
    all_products_ms = macs["weights"] / int8_rate / 1e9 * 1000

    torch.set_num_threads(1)
    plain = SentenceTransformer(str(path), device="cpu", local_files_only=True)
    batch = [encoder._tok.decode(row, skip_special_tokens=True) for row in long_rows]
    plain.encode(batch[:2], batch_size=32)
    started = time.perf_counter()
    plain.encode(batch, batch_size=32)
    torch_ms = (time.perf_counter() - started) * 1000 / len(batch)
    torch_rate = (macs["weights"] + macs["scores"]) / (torch_ms / 1000) / 1e9
    print(
        f"\nPyTorch float32, one thread: {torch_ms:.1f} ms a chunk, "
        f"{(macs['weights'] + macs['scores']) / 1e9:.2f} G multiply-adds at {torch_rate:.0f} G/s "
        "(everything counted as matrix products)"
    )
    print(
        f"\nratio now: {torch_ms / wall:.2f}x. If all {macs['weights'] / 1e9:.2f} G weight "
        f"multiply-adds ran at that 8-bit rate ({all_products_ms:.1f} ms) and attention scores, "
        f"softmax, layer norms and GELU cost nothing: {torch_ms / all_products_ms:.2f}x."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
