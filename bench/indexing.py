"""Indexing benchmark: embedding speed side by side, end-to-end indexing, query latency, relevance.

    python bench/indexing.py [--letters DIR ...] [--corpus DIR] [--sizes 1000,10000]
                             [--rounds 3] [--skip-e2e] [--skip-relevance] [--torch-e2e N]

Prints the machine it ran on and:

1. Embedding alone, side by side in one process, rounds interleaved so that both systems see the
   same machine load: plain sentence-transformers on PyTorch (float32, batch 32, as its docs
   use it) against the indexer's embedding path (`Embedder.embed_documents`: the int8 ONNX
   backend, de-duplication; no disk cache, then a warm disk cache as a re-index sees it), on the
   same real chunks: the chunks of the letters under --letters (parsed and chunked as the
   indexer does) and their 256-token subset (chunks of 240 word-pieces or more, the size the
   issue's "18 chunks/s" refers to). Medians of the rounds, and the median of the per-round
   ratios.
2. End to end: `index_letters` into a fresh `EmbeddedStore` for the first N letters of the
   corpus (--corpus, else a corpus `bench/make_corpus.py` writes into a temporary directory) for
   each N of --sizes: letters/s and chunks/s, split into reading (parse + chunk), embedding and
   the rest (store writes), then extrapolated to 130,000 letters and 1,000,000 chunks.
   --torch-e2e N also runs the first N letters with the torch backend.
3. Query embedding: p50 / p95 / max milliseconds of 200 distinct short queries, uncached, per
   backend.
4. Retrieval: nDCG@10 of every mode on the judged dev queries (bench/relevance.py's `evaluate`
   on the bundled dev letters), torch beside onnx-int8; the mean and least cosine between the
   two backends' vectors of the same chunks; and the overlap of their top-10 letters per mode.

Nothing here runs in the test suite.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

DEFAULT_LETTERS = ROOT / "samples" / "letters"
DEV_LETTERS = ROOT / "samples" / "letters" / "dev"
QUERIES = ROOT.parent / "shared" / "eval" / "dev-queries.json"
LONG_CHUNK = 240  # word-pieces: a "256-token chunk" once [CLS] and [SEP] are added
TARGET_LETTERS = 130_000
TARGET_CHUNKS = 1_000_000


# -- machine -------------------------------------------------------------------------------


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _cpu_flags() -> set[str]:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def _version(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def _load() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "?"


def print_machine() -> None:
    flags = _cpu_flags()
    simd = [
        f for f in ("avx2", "fma", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8") if f in flags
    ]
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(
        f"machine: {_cpu_model()}, {cores} usable CPUs ({os.cpu_count()} online); "
        f"SIMD {' '.join(simd) or 'none of avx2/avx512/vnni'}"
    )
    print(f"  {platform.platform()}, Python {platform.python_version()}")
    print(
        "  torch "
        + _version("torch")
        + ", onnxruntime "
        + _version("onnxruntime")
        + ", sentence-transformers "
        + _version("sentence-transformers")
        + ", transformers "
        + _version("transformers")
        + ", numpy "
        + _version("numpy")
    )
    print(f"  load average at start: {_load()} (other processes share these cores)")


# -- helpers -------------------------------------------------------------------------------


def read_chunks(paths: list[Path], limit: int | None = None) -> tuple[list, list[str]]:
    """Parse and chunk the letters under `paths` as the indexer does; return docs and texts."""
    from indexer.pipeline import read_letters

    docs = []
    for doc in read_letters([str(p) for p in paths], lambda src, why: None):
        docs.append(doc)
        if limit and len(docs) >= limit:
            break
    return docs, [c["text"] for d in docs for c in d.chunks]


def _median_rate(rates: list[float]) -> float:
    return statistics.median(rates) if rates else 0.0


def interleaved(
    systems: dict[str, Callable[[], None]], count: int, rounds: int
) -> dict[str, list[float]]:
    """Run each system once per round, in turn, and return items/s per round per system."""
    rates: dict[str, list[float]] = {name: [] for name in systems}
    for _ in range(rounds):
        for name, run in systems.items():
            started = time.perf_counter()
            run()
            rates[name].append(count / (time.perf_counter() - started))
    return rates


def print_rates(title: str, rates: dict[str, list[float]], base: str) -> None:
    print(f"\n{title}")
    for name, values in rates.items():
        ratios = [v / b for v, b in zip(values, rates[base], strict=True)]
        print(
            f"  {name:<44} {_median_rate(values):8.1f} chunks/s (rounds: "
            + ", ".join(f"{v:.1f}" for v in values)
            + f")  x{statistics.median(ratios):.2f} of {base}"
        )


# -- 1. embedding alone ----------------------------------------------------------------------


def bench_embedding(texts: list[str], long_texts: list[str], rounds: int) -> None:
    import torch
    from sentence_transformers import SentenceTransformer

    from indexer.embedder import Embedder
    from indexer.model import model_path

    path = model_path()
    plain = SentenceTransformer(str(path), device="cpu", local_files_only=True)
    ours = Embedder(backend="onnx-int8")
    ours_torch = Embedder(backend="torch")
    print(
        f"\n[1] embedding alone: torch threads {torch.get_num_threads()}, "
        f"ours = Embedder(backend=onnx-int8) {ours.model_id}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        warm = Embedder(backend="onnx-int8", cache_path=Path(tmp) / "cache.sqlite")
        warm.embed_documents(texts)
        warm.embed_documents(long_texts)
        for label, chunk_texts in (
            (f"{len(long_texts)} chunks of >= {LONG_CHUNK} word-pieces", long_texts),
            (f"all {len(texts)} chunks of the letters ({len(set(texts))} distinct)", texts),
        ):
            if not chunk_texts:
                continue
            # Warm-up: the first call of each pays for lazy initialisation.
            plain.encode(chunk_texts[:4])
            ours.embed_documents(chunk_texts[:4])
            systems = {
                "sentence-transformers torch fp32 (baseline)": lambda t=chunk_texts: plain.encode(
                    t, batch_size=32, normalize_embeddings=True, show_progress_bar=False
                ),
                "Embedder onnx-int8, no disk cache": lambda t=chunk_texts: ours.embed_documents(t),
                "Embedder torch, no disk cache": lambda t=chunk_texts: ours_torch.embed_documents(
                    t
                ),
                "Embedder onnx-int8, warm disk cache": lambda t=chunk_texts: warm.embed_documents(
                    t
                ),
            }
            rates = interleaved(systems, len(chunk_texts), rounds)
            print_rates(label, rates, "sentence-transformers torch fp32 (baseline)")
        warm.close()


# -- 2. end to end -------------------------------------------------------------------------


class TimedEmbedder:
    """An Embedder that adds up the time spent in embed_documents."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.seconds = 0.0

    @property
    def stats(self):
        return self.inner.stats

    @property
    def dims(self) -> int:
        return self.inner.dims

    def embed_documents(self, texts):
        started = time.perf_counter()
        try:
            return self.inner.embed_documents(texts)
        finally:
            self.seconds += time.perf_counter() - started

    def embed_query(self, text):
        return self.inner.embed_query(text)


def ensure_corpus(corpus: Path | None, size: int, tmp: Path) -> Path:
    if corpus is not None:
        return corpus
    out = tmp / f"corpus-{size}"
    if not out.exists():
        print(f"  writing {size} synthetic letters with bench/make_corpus.py into {out}")
        subprocess.run(
            [sys.executable, str(ROOT / "bench" / "make_corpus.py"), str(size), str(out)],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    return out


def letter_files(corpus: Path, size: int) -> list[Path]:
    files = sorted(p for p in corpus.rglob("*") if p.suffix in (".txt", ".pdf") and p.is_file())
    if len(files) < size:
        print(f"  note: {corpus} holds {len(files)} letters, fewer than {size}")
    return files[:size]


def bench_e2e(corpus: Path | None, sizes: list[int], torch_n: int) -> None:
    from indexer.embedder import Embedder
    from indexer.pipeline import index_letters
    from indexer.stores.embedded import EmbeddedStore

    print("\n[2] end to end: index_letters into a fresh EmbeddedStore (no embedding cache)")
    runs = [(n, "onnx-int8") for n in sizes]
    if torch_n:
        runs.insert(0, (torch_n, "torch"))
    with tempfile.TemporaryDirectory(prefix="imr-bench-") as tmp_name:
        tmp = Path(tmp_name)
        for size, backend in runs:
            source = ensure_corpus(corpus, max(sizes + [torch_n]), tmp)
            files = letter_files(source, size)
            # Reading on its own (parse + chunk), to split the end-to-end time.
            started = time.perf_counter()
            docs, texts = read_chunks(files)
            t_read = time.perf_counter() - started
            embedder = TimedEmbedder(Embedder(backend=backend))
            store_dir = tmp / f"store-{backend}-{size}"
            store = EmbeddedStore(store_dir, dims=embedder.dims)
            started = time.perf_counter()
            summary = index_letters(iter(docs), store, embedder)
            t_index = time.perf_counter() - started
            close = getattr(store, "close", None)
            if close:
                close()
            total = t_read + t_index
            letters, chunks = summary.indexed, summary.chunks
            t_embed = embedder.seconds
            t_rest = t_index - t_embed
            print(
                f"  {backend:<9} {letters:>6} letters {chunks:>7} chunks "
                f"({len(set(texts))} distinct, {summary.embedded} embedded): "
                f"{total:8.1f} s = read {t_read:.1f} + embed {t_embed:.1f} + store {t_rest:.1f}"
            )
            print(
                f"            end to end {letters / total:7.2f} letters/s {chunks / total:7.1f} "
                f"chunks/s; embedding alone {chunks / t_embed:7.1f} chunks/s; "
                f"read {letters / t_read:.1f} letters/s; store {chunks / max(t_rest, 1e-9):.0f} "
                "chunks/s"
            )
            per_letter = total / max(letters, 1)
            chunks_per_letter = chunks / max(letters, 1)
            print(
                f"            extrapolated: {TARGET_LETTERS:,} letters (~"
                f"{TARGET_LETTERS * chunks_per_letter:,.0f} chunks at {chunks_per_letter:.2f}"
                f"/letter) {TARGET_LETTERS * per_letter / 3600:.1f} h; {TARGET_CHUNKS:,} chunks "
                f"{TARGET_CHUNKS / (chunks / total) / 3600:.1f} h end to end, of which embedding "
                f"{TARGET_CHUNKS / (chunks / t_embed) / 3600:.1f} h (linear in letters; store "
                "writes measured here only up to this size)"
            )
            print(f"            load average now: {_load()}")


# -- 3. query latency ----------------------------------------------------------------------


def _queries(n: int) -> list[str]:
    rng = random.Random(7)
    drugs = ["Valium", "Norco", "tramadol", "gabapentin", "Soma", "Lyrica", "omeprazole"]
    things = ["lumbar MRI", "physical therapy", "acupuncture", "TENS unit", "knee arthroscopy"]
    words = ["for anxiety", "denied", "overturned", "chronic pain", "neck", "low back", "2016"]
    out: set[str] = set()
    while len(out) < n:
        out.add(f"{rng.choice(drugs + things)} {rng.choice(words)} {rng.randint(1, 999)}")
    return sorted(out)


def bench_queries(n: int = 200) -> None:
    import numpy as np

    from indexer.embedder import Embedder

    print(f"\n[3] query embedding: {n} distinct short queries, uncached (p50 / p95 / max ms)")
    print(
        "  (onnx-int8 runs a query on the calling thread, so its CPU time is about its wall "
        "time on an idle core; torch's work is on its own threads)"
    )
    queries = _queries(n)
    for backend in ("torch", "onnx-int8"):
        embedder = Embedder(backend=backend)
        for q in queries[:5]:
            embedder.embed_query("warm " + q)
        times, cpu = [], []
        for q in queries:
            embedder._queries.clear()
            started, cpu_started = time.perf_counter(), time.thread_time()
            embedder.embed_query(q)
            times.append((time.perf_counter() - started) * 1000)
            cpu.append((time.thread_time() - cpu_started) * 1000)
        p50, p95 = np.percentile(times, [50, 95])
        print(
            f"  {backend:<9} p50 {p50:6.2f}  p95 {p95:6.2f}  max {max(times):6.2f}  "
            f"(CPU time of the calling thread: p50 {np.percentile(cpu, 50):.2f})"
        )


# -- 4. retrieval --------------------------------------------------------------------------


def bench_relevance() -> None:
    import json

    import numpy as np

    from bench.relevance import evaluate, ranked_letters
    from indexer.embedder import Embedder
    from indexer.pipeline import index_letters, read_letters
    from indexer.search import MODES, SearchService
    from indexer.stores.embedded import EmbeddedStore

    if not QUERIES.is_file():
        print(f"\n[4] retrieval: skipped, no judged queries at {QUERIES}")
        return
    queries = json.loads(QUERIES.read_text())
    print(f"\n[4] retrieval: nDCG@10 on {len(queries)} judged dev queries, {DEV_LETTERS}")
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="imr-bench-rel-") as tmp:
        for backend in ("torch", "onnx-int8"):
            embedder = Embedder(backend=backend)
            store = EmbeddedStore(Path(tmp) / backend, dims=embedder.dims)
            docs = list(read_letters([str(DEV_LETTERS)], lambda *e: None))
            index_letters(iter(docs), store, embedder)
            service = SearchService(store, lambda e=embedder: e)
            texts = [c["text"] for d in docs for c in d.chunks]
            results[backend] = {
                "ndcg": {mode: evaluate(service, queries, mode) for mode in MODES},
                "top": {
                    mode: {q["id"]: ranked_letters(service, q["query"], mode) for q in queries}
                    for mode in MODES
                },
                "vectors": embedder.embed_documents(texts),
            }
    print(f"  {'mode':<10}{'torch':>10}{'onnx-int8':>11}{'top-10 overlap':>16}")
    for mode in results["torch"]["ndcg"]:
        means = [statistics.mean(results[b]["ndcg"][mode].values()) for b in results]
        overlaps = [
            len(set(results["torch"]["top"][mode][q]) & set(results["onnx-int8"]["top"][mode][q]))
            / max(len(results["torch"]["top"][mode][q]), 1)
            for q in results["torch"]["top"][mode]
        ]
        print(f"  {mode:<10}{means[0]:>10.4f}{means[1]:>11.4f}{statistics.mean(overlaps):>16.3f}")
    a, b = results["torch"]["vectors"], results["onnx-int8"]["vectors"]
    cos = np.sum(a * b, axis=1)
    print(
        f"  cosine torch vs onnx-int8 over {len(cos)} chunks: mean {cos.mean():.5f}, "
        f"least {cos.min():.5f}, 1st percentile {np.percentile(cos, 1):.5f}"
    )
    worst = {
        mode: sorted(
            (results["onnx-int8"]["ndcg"][mode][q] - results["torch"]["ndcg"][mode][q], q)
            for q in results["torch"]["ndcg"][mode]
        )[:3]
        for mode in ("hybrid", "semantic")
        if mode in results["torch"]["ndcg"]
    }
    for mode, rows in worst.items():
        print(
            f"  largest drops int8 - torch ({mode}): " + ", ".join(f"{q} {d:+.3f}" for d, q in rows)
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--letters", type=Path, nargs="+", default=[DEFAULT_LETTERS])
    parser.add_argument("--corpus", type=Path, help="letters for [2] (default: make_corpus.py)")
    parser.add_argument("--sizes", default="1000,10000", help="letter counts for [2]")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--torch-e2e", type=int, default=0, metavar="N")
    parser.add_argument("--skip-embedding", action="store_true")
    parser.add_argument("--skip-e2e", action="store_true")
    parser.add_argument("--skip-queries", action="store_true")
    parser.add_argument("--skip-relevance", action="store_true")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    print_machine()
    if not args.skip_embedding:
        from indexer.model import load_tokenizer

        _, texts = read_chunks(args.letters)
        counts = load_tokenizer().count_many(texts)
        long_texts = [t for t, n in zip(texts, counts, strict=True) if n >= LONG_CHUNK]
        print(
            f"\nchunks: {len(texts)} from {', '.join(map(str, args.letters))}; word-pieces "
            f"median {statistics.median(counts):.0f}, max {max(counts)}; "
            f"{len(long_texts)} of >= {LONG_CHUNK}"
        )
        bench_embedding(texts, long_texts, args.rounds)
    if not args.skip_queries:
        bench_queries()
    if not args.skip_relevance:
        bench_relevance()
    if not args.skip_e2e:
        sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
        bench_e2e(args.corpus, sizes, args.torch_e2e)
    print(f"\nload average at end: {_load()}; total {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
