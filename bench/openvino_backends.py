"""OpenVINO against plain sentence-transformers and the indexer's int8 ONNX backend, side by side.

    pip install openvino nncf   # not dependencies of imr-search: for this comparison only
    python bench/openvino_backends.py [--letters DIR] [--rounds 3]

Converts the packaged all-MiniLM-L6-v2 to OpenVINO three ways: float32; 8-bit by NNCF's
post-training quantisation (weights and activations, calibrated on the sample chunks, the
transformer preset); and 8-bit weights with float32 arithmetic (NNCF's weight compression). Each
runs one chunk per request on two streams of one thread (as the ONNX backend runs one chunk per
thread). Prints chunks/s on the 256-token sample chunks, medians of interleaved rounds beside
sentence-transformers (PyTorch float32, batch 32) and the indexer's onnx-int8 Embedder, and the
least and mean cosine of each one's vectors with PyTorch's over all sample chunks.
Nothing here runs in the test suite.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# bench.indexing also keeps Hugging Face offline (HF_HUB_OFFLINE) before anything loads a model.
from bench.indexing import LONG_CHUNK, interleaved, print_machine, read_chunks  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--letters", type=Path, default=ROOT / "samples" / "letters")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    try:
        import nncf
        import openvino as ov
    except ImportError as exc:
        print(f"{exc}: pip install openvino nncf to run this comparison")
        return 2
    import numpy as np
    import torch
    from sentence_transformers import SentenceTransformer
    from tokenizers import Tokenizer
    from transformers import AutoModel

    from indexer.embedder import Embedder
    from indexer.model import model_path
    from indexer.onnx_model import _pool

    print_machine()
    print(f"  openvino {ov.__version__}, nncf {nncf.__version__}")
    path = model_path()
    _, texts = read_chunks([args.letters])
    tok = Tokenizer.from_file(str(path / "tokenizer.json"))
    tok.no_padding()
    tok.enable_truncation(max_length=256)
    ids = [e.ids for e in tok.encode_batch(texts)]
    long_at = [i for i, row in enumerate(ids) if len(row) >= LONG_CHUNK + 2]
    plain = SentenceTransformer(str(path), device="cpu", local_files_only=True)
    reference = plain.encode(texts, batch_size=32, normalize_embeddings=True)

    def feed(row: list[int]) -> dict[str, np.ndarray]:
        a = np.array([row], dtype=np.int64)
        return {
            "input_ids": a,
            "attention_mask": np.ones_like(a),
            "token_type_ids": np.zeros_like(a),
        }

    transformer = AutoModel.from_pretrained(str(path), local_files_only=True).eval()

    class Body(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.m = transformer

        def forward(self, input_ids, attention_mask, token_type_ids):  # noqa: ANN001
            return self.m(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    shape = [("input_ids", [-1, -1], ov.Type.i64), ("attention_mask", [-1, -1], ov.Type.i64)]
    shape.append(("token_type_ids", [-1, -1], ov.Type.i64))
    example = {k: torch.ones(1, 16, dtype=torch.long) for k, _, _ in shape}
    core = ov.Core()
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = ov.convert_model(Body().eval(), example_input=example, input=shape)
        ov.save_model(fp32, f"{tmp}/fp32.xml", compress_to_fp16=False)
        static = nncf.quantize(
            core.read_model(f"{tmp}/fp32.xml"),
            nncf.Dataset([feed(row) for row in ids]),
            model_type=nncf.ModelType.TRANSFORMER,
            subset_size=len(ids),
        )
        ov.save_model(static, f"{tmp}/int8.xml", compress_to_fp16=False)
        weights = nncf.compress_weights(
            core.read_model(f"{tmp}/fp32.xml"), mode=nncf.CompressWeightsMode.INT8_ASYM
        )
        ov.save_model(weights, f"{tmp}/w8.xml", compress_to_fp16=False)

        def runner(xml: str):
            config = {
                "PERFORMANCE_HINT": "THROUGHPUT",
                "INFERENCE_NUM_THREADS": 2,
                "NUM_STREAMS": 2,
            }
            compiled = core.compile_model(xml, "CPU", config)

            def run(at: list[int]) -> np.ndarray:
                out: dict[int, np.ndarray] = {}
                queue = ov.AsyncInferQueue(compiled, 2)
                queue.set_callback(
                    lambda req, i: out.__setitem__(
                        i,
                        _pool(req.get_output_tensor(0).data, np.ones((1, len(ids[i]))), "mean")[0],
                    )
                )
                for i in sorted(at, key=lambda i: -len(ids[i])):
                    queue.start_async(feed(ids[i]), i)
                queue.wait_all()
                return np.stack([out[i] for i in at])

            return run

        ours = Embedder(backend="onnx-int8")
        systems = {
            "sentence-transformers torch fp32 (baseline)": lambda at: plain.encode(
                [texts[i] for i in at], batch_size=32, normalize_embeddings=True
            ),
            "imr-search onnx-int8 (Embedder)": lambda at: np.asarray(
                ours.embed_documents([texts[i] for i in at])
            ),
            "OpenVINO fp32": runner(f"{tmp}/fp32.xml"),
            "OpenVINO int8 (NNCF, weights+activations)": runner(f"{tmp}/int8.xml"),
            "OpenVINO int8 weights, fp32 arithmetic": runner(f"{tmp}/w8.xml"),
        }
        everything = list(range(len(texts)))
        cosines = {}
        for name, run in systems.items():
            got = run(everything)
            cosines[name] = np.sum(got * reference, axis=1)
            run(long_at[:4])  # warm-up
        rates = interleaved(
            {n: (lambda r=r: r(long_at)) for n, r in systems.items()}, len(long_at), args.rounds
        )
    base = rates["sentence-transformers torch fp32 (baseline)"]
    print(
        f"\n{len(long_at)} chunks of >= {LONG_CHUNK} word-pieces; "
        f"cosine with PyTorch over all {len(texts)}"
    )
    for name, values in rates.items():
        ratio = statistics.median(v / b for v, b in zip(values, base, strict=True))
        cos = cosines[name]
        print(
            f"  {name:<44} {statistics.median(values):6.1f} chunks/s  x{ratio:.2f}  "
            f"cosine least {cos.min():.4f} mean {cos.mean():.4f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
