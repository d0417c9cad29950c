"""The `imr-search` commands that use an index: index, reindex, delete, search, similar, stats."""

from __future__ import annotations

import json
import os
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from .letters.errors import printable
from .locking import WriterBusy, writer_lock
from .search import SearchError, SearchRequest, SearchService
from .serialize import result_json, similar_json, stats_json
from .settings import EnvOption, check_store_settings, lock_timeout
from .stores.base import IndexDamaged, Store, StoreUnavailable, StoreWriteError


def _embedded(ctx: click.Context) -> bool:
    from .stores import default_backend

    return (ctx.obj.get("backend") or default_backend()) == "embedded"


def _store(ctx: click.Context, *, damaged_ok: bool = False) -> Store:
    """The store; a damaged embedded index is an error (one line), unless `damaged_ok`: the
    store then opens all the same and each read raises what is damaged (`serve`, `verify`)."""
    from .stores import open_store

    if _embedded(ctx):
        check_store_settings()
    try:
        return open_store(ctx.obj.get("backend"), ctx.obj.get("data_dir"), damaged_ok=damaged_ok)
    except (StoreUnavailable, StoreWriteError) as exc:
        raise click.ClickException(str(exc)) from None


def _backend_errors() -> tuple[type[BaseException], ...]:
    """What a back end raises when it fails (Elasticsearch's errors, when it is loaded)."""
    errors: list[type[BaseException]] = [StoreUnavailable, StoreWriteError]
    es = sys.modules.get("indexer.stores.elasticsearch")
    if es is not None:
        errors.append(es.StoreError)
    return tuple(errors)


@contextmanager
def _write_lock(ctx: click.Context) -> Iterator[None]:
    """Hold the embedded data directory's writer lock (see `locking.py`); nothing else to
    hold on Elasticsearch. Another writer that keeps it too long is a one-line error."""
    if not _embedded(ctx):
        yield
        return
    from .stores import data_dir
    from .stores.embedded import ensure_data_dir

    timeout = lock_timeout()
    root = data_dir(ctx.obj.get("data_dir"))
    try:
        ensure_data_dir(root)
    except (StoreUnavailable, StoreWriteError) as exc:
        raise click.ClickException(str(exc)) from None
    try:
        lock = writer_lock(root, timeout)
        lock.__enter__()
    except WriterBusy as exc:
        raise click.ClickException(str(exc)) from None
    except OSError as exc:
        raise click.ClickException(
            f"cannot lock data directory '{root}' ({exc.strerror or exc})"
        ) from None
    try:
        yield
    finally:
        lock.__exit__(None, None, None)


@contextmanager
def _writing(ctx: click.Context, *, for_rebuild: bool = False) -> Iterator[Store]:
    """The store, opened for a command that writes it, with the writer lock held throughout
    (taken first: the store opens the index ACTIVE names once no other writer can switch it)."""
    with _write_lock(ctx):
        if _embedded(ctx):
            from .stores import data_dir
            from .stores.embedded import EmbeddedStore

            check_store_settings()
            try:
                store: Store = EmbeddedStore(
                    data_dir(ctx.obj.get("data_dir")), for_rebuild=for_rebuild
                )
            except (StoreUnavailable, StoreWriteError) as exc:
                raise click.ClickException(str(exc)) from None
        else:
            store = _store(ctx)
        try:
            if _embedded(ctx):
                yield store
            else:
                yield from _es_locked(store)
        finally:
            store.close()


def _es_locked(store: Any) -> Iterator[Any]:
    """Yield the Elasticsearch store with its writer lock held (a lock document)."""
    from .stores.elasticsearch.lock import ElasticsearchWriterBusy

    try:
        lock = store.writer_lock(lock_timeout())
        lock.__enter__()
    except (ElasticsearchWriterBusy, StoreUnavailable) as exc:
        raise click.ClickException(str(exc)) from None
    try:
        yield store
    finally:
        lock.__exit__(None, None, None)


def _embedder(ctx: click.Context, store: Store):
    from .embedder import open_embedder

    return open_embedder(store, ctx.obj.get("data_dir"))


def _service(ctx: click.Context) -> SearchService:
    store = _store(ctx)
    try:
        empty = store.counts()[0] == 0
    except StoreUnavailable as exc:
        raise click.ClickException(str(exc)) from None
    if empty:
        where = getattr(store, "root", None) or getattr(store, "url", "")
        raise click.ClickException(
            f"the {store.name} index ({where}) is empty: index letters first with "
            "'imr-search index PATH'"
        )
    return SearchService(store, lambda: _embedder(ctx, store))


def _filters(pairs: tuple[str, ...]) -> dict[str, list[str]]:
    params: dict[str, list[str]] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not value:
            raise click.BadParameter(f"{pair!r} is not FACET=VALUE", param_hint="--filter")
        from .schema import facet_names

        if name not in facet_names():
            raise click.BadParameter(
                f"unknown facet {name!r} (one of {', '.join(facet_names())})", param_hint="--filter"
            )
        params.setdefault(name, []).append(value)
    return params


def _request(
    query: str,
    mode: str,
    filters: tuple[str, ...],
    date_from: str | None,
    date_to: str | None,
    sort: str,
    page: int,
    per_page: int,
) -> SearchRequest:
    params: dict[str, Any] = {
        "q": query,
        "mode": mode,
        "sort": sort,
        "page": str(page),
        "per_page": str(per_page),
        **_filters(filters),
    }
    if date_from:
        params["decision_from"] = date_from
    if date_to:
        params["decision_to"] = date_to
    try:
        return SearchRequest.from_params(params)
    except SearchError as exc:
        raise click.UsageError(str(exc)) from None


def register(main: click.Group) -> None:
    """Add the index commands to the `imr-search` group."""
    _serve_command(main)

    @main.command()
    @click.argument("paths", nargs=-1, required=True, metavar="PATH...")
    @click.option("--force", is_flag=True, help="Re-index letters even when unchanged.")
    @click.option(
        "--batch-size",
        type=click.IntRange(min=1),
        default=None,
        help="Letters per write [default: 16 on the embedded store, 128 on Elasticsearch].",
    )
    @click.pass_context
    def index(ctx: click.Context, paths: tuple[str, ...], force: bool, batch_size: int) -> None:
        """Index letters (.pdf, .txt, or folders of them); unchanged letters are skipped.

        Each batch of letters is written whole or not at all, so an interrupted run can simply
        be run again. Bad files are reported on stderr and the rest are indexed; the exit code
        is 1 if any file failed.
        """
        with _writing(ctx) as store:
            summary, failures = _index_into(ctx, store, paths, force, batch_size)
            letters, chunks = store.counts()
            click.echo(
                f"{summary.indexed} letters indexed ({summary.chunks} chunks), {summary.skipped} "
                f"unchanged, {len(failures)} failed in {summary.seconds:.1f} s; the index now "
                f"holds {letters} letters, {chunks} chunks ({store.name})"
            )
        if failures:
            sys.exit(1)

    @main.command()
    @click.argument("letter_ids", nargs=-1, required=True, metavar="LETTER_ID...")
    @click.pass_context
    def delete(ctx: click.Context, letter_ids: tuple[str, ...]) -> None:
        """Remove letters (by letter id or case number) from the index."""
        with _writing(ctx) as store:
            try:
                removed = store.delete(list(letter_ids))
            except StoreWriteError as exc:  # refused before anything was removed
                raise click.ClickException(f"{exc}; nothing was deleted") from None
            except _backend_errors() as exc:
                raise click.ClickException(str(exc)) from None
            click.echo(f"{removed} of {len(letter_ids)} letters removed")
        if removed < len(letter_ids):
            sys.exit(1)

    @main.command()
    @click.argument("paths", nargs=-1, required=True, metavar="PATH...")
    @click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
    @click.pass_context
    def verify(ctx: click.Context, paths: tuple[str, ...], as_json: bool) -> None:
        """Check the index whole, and compare it with the letters under PATH: damaged,
        missing, extra, stale, duplicates.

        Damaged: a file of the embedded index that is missing, cut short, or not as it was
        written (each segment file's checksum, SQLite's integrity check, the text index's
        documents of each letter against SQLite's chunks); `imr-search reindex PATH` rebuilds
        it. Missing: a file whose letter is not indexed. Extra: an indexed letter that no file
        under PATH holds (any more). Stale: a file changed since its letter was indexed.
        Duplicates: several files holding one letter id. Unreadable: a file that is not a
        readable letter. Chunks: more or fewer chunks indexed than the letters account for.
        The exit code is 0 when there are none of these, 1 otherwise.
        """
        from .verify import VerifyReport
        from .verify import verify as compare

        store = _store(ctx, damaged_ok=True)
        try:
            check = getattr(store, "check_whole", None)
            damaged = check() if check is not None else []
            if damaged:
                report = VerifyReport(damaged=damaged, compared=False)
            else:
                report = compare(list(paths), store.indexed_letters(), chunks=store.counts()[1])
        except IndexDamaged as exc:
            report = VerifyReport(damaged=[getattr(exc, "problem", str(exc))], compared=False)
        except StoreUnavailable as exc:
            raise click.ClickException(str(exc)) from None
        finally:
            store.close()
        if as_json:
            click.echo(json.dumps(report.to_json(), ensure_ascii=False))
        else:
            _print_verify(report, str(getattr(store, "root", "") or getattr(store, "url", "")))
        if not report.consistent:
            sys.exit(1)

    @main.command()
    @click.argument("paths", nargs=-1, required=True, metavar="PATH...")
    @click.option(
        "--batch-size",
        type=click.IntRange(min=1),
        default=None,
        help="Letters per write [default: 16 on the embedded store, 128 on Elasticsearch].",
    )
    @click.option(
        "--allow-failures",
        is_flag=True,
        help="Switch to the new index even if some files failed (they are left out of it).",
    )
    @click.option(
        "--allow-empty", is_flag=True, help="Switch to the new index even if it holds no letters."
    )
    @click.pass_context
    def reindex(
        ctx: click.Context,
        paths: tuple[str, ...],
        batch_size: int | None,
        allow_failures: bool,
        allow_empty: bool,
    ) -> None:
        """Rebuild the index from letters into a new index and switch to it when complete.

        Searches keep using the old index until the switch. It switches only when every file
        was indexed (or --allow-failures), the new index holds letters (or --allow-empty) and,
        opened afresh, holds every letter and chunk written into it; otherwise the new index
        is deleted and the old one stays in use, whole. A PATH that does not exist (or is no
        file or folder) stops it before anything is built.
        """
        from .letters.reader import path_problem

        bad = [(p, why) for p in paths if (why := path_problem(p)) is not None]
        if bad:
            named = "; ".join(f"{printable(p)}: {why}" for p, why in bad)
            raise click.ClickException(
                f"{named}; nothing was rebuilt, the index in use is unchanged"
            )
        with _writing(ctx, for_rebuild=True) as store:
            leftovers = getattr(store, "remove_leftovers", None)
            removed = leftovers() if leftovers else []
            if removed:
                click.echo(
                    f"note: removed {len(removed)} unfinished rebuild(s) left by interrupted "
                    f"runs: {', '.join(removed)}",
                    err=True,
                )
            failures = _rebuild(ctx, store, paths, batch_size, allow_failures, allow_empty)
            letters, chunks = store.counts()
            click.echo(
                f"rebuilt: {letters} letters, {chunks} chunks ({len(failures)} files failed)"
            )
        if failures:
            sys.exit(1)

    @main.command()
    @click.argument("query", required=False, default="")
    @click.option(
        "--mode",
        type=click.Choice(["hybrid", "keyword", "semantic"]),
        default="hybrid",
        show_default=True,
    )
    @click.option(
        "--filter",
        "filters",
        multiple=True,
        metavar="FACET=VALUE",
        help="Keep results with this facet value; repeat for more (OR within a facet).",
    )
    @click.option("--from", "date_from", metavar="YYYY-MM-DD", help="Decided on or after.")
    @click.option("--to", "date_to", metavar="YYYY-MM-DD", help="Decided on or before.")
    @click.option(
        "--sort", type=click.Choice(["relevance", "newest"]), default="relevance", show_default=True
    )
    @click.option("--page", default=1, show_default=True)
    @click.option("--per-page", default=10, show_default=True)
    @click.option("--facets", "show_facets", is_flag=True, help="Also print facet counts.")
    @click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
    @click.pass_context
    def search(
        ctx, query, mode, filters, date_from, date_to, sort, page, per_page, show_facets, as_json
    ) -> None:
        """Search the letters. QUERY takes words, "phrases", -excluded and +required words."""
        request = _request(query, mode, filters, date_from, date_to, sort, page, per_page)
        service = _service(ctx)
        try:
            result = service.search(request)
        except StoreUnavailable as exc:
            raise click.ClickException(str(exc)) from None
        if as_json:
            click.echo(json.dumps(result_json(result), ensure_ascii=False))
            return
        click.echo(
            f"{result.total} letters ({result.took_ms:.0f} ms), page {request.page} of "
            f"{result.pages}"
        )
        for n, hit in enumerate(result.hits, start=(request.page - 1) * request.per_page + 1):
            doc = hit.doc
            click.echo(
                f"\n{n:>3}. {doc.get('case_number') or hit.letter_id}  "
                f"{doc.get('decision_date') or 'date unknown'}  score {hit.score:.3f}"
            )
            for chunk in hit.chunks:
                label = chunk.doc.get("request") or "Case summary"
                is_item = chunk.doc.get("section") == "item"
                decision = ", ".join(chunk.doc.get("decision") or []) if is_item else ""
                click.echo(f"     {label}" + (f"  [{decision.upper()}]" if decision else ""))
                click.echo(f"       {_plain(chunk.highlights[0]) if chunk.highlights else ''}")
        for note in result.notes:
            click.echo(f"\nnote: {note}")
        if show_facets:
            for facet, values in result.facets.items():
                shown = ", ".join(f"{v.value} ({v.count})" for v in values[:8])
                click.echo(f"\n{facet}: {shown}")

    @main.command()
    @click.argument("source_id", metavar="ID")
    @click.option("-k", "k", default=10, show_default=True, help="How many to show.")
    @click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
    @click.pass_context
    def similar(ctx, source_id: str, k: int, as_json: bool) -> None:
        """Find letters like a letter (ID = letter id) or items like an item (LETTER:item-N)."""
        service = _service(ctx)
        try:
            hits = service.similar(source_id, k)
        except (SearchError, StoreUnavailable) as exc:
            raise click.ClickException(str(exc)) from None
        if as_json:
            click.echo(json.dumps([similar_json(h) for h in hits], ensure_ascii=False))
            return
        for n, hit in enumerate(hits, start=1):
            click.echo(
                f"{n:>3}. {hit.item_id or hit.letter_id}  {hit.score:.3f}  "
                f"{hit.chunk.doc.get('request') or 'Case summary'}"
            )
            click.echo(f"       {hit.explanation}")

    @main.command()
    @click.argument("query", required=False, default="")
    @click.option("--by", "by", required=True, metavar="FACET", help="Facet to group items by.")
    @click.option("--mode", type=click.Choice(["hybrid", "keyword", "semantic"]), default="hybrid")
    @click.option("--filter", "filters", multiple=True, metavar="FACET=VALUE")
    @click.option("--from", "date_from", metavar="YYYY-MM-DD")
    @click.option("--to", "date_to", metavar="YYYY-MM-DD")
    @click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
    @click.pass_context
    def stats(ctx, query, by, mode, filters, date_from, date_to, as_json) -> None:
        """Upheld and overturned items per value of a facet, with the overturn rate and 95% CI."""
        request = _request(query, mode, filters, date_from, date_to, "relevance", 1, 10)
        service = _service(ctx)
        try:
            rows = service.stats(request, by)
        except SearchError as exc:
            raise click.UsageError(str(exc)) from None
        except StoreUnavailable as exc:
            raise click.ClickException(str(exc)) from None
        if as_json:
            click.echo(json.dumps([stats_json(r) for r in rows], ensure_ascii=False))
            return
        click.echo(f"{'value':<40} {'upheld':>7} {'overt.':>7} {'rate':>6}  95% CI")
        for r in rows:
            low, high = r.interval
            click.echo(
                f"{r.value[:40]:<40} {r.upheld:>7} {r.overturned:>7} "
                f"{r.overturn_rate:>6.1%}  {low:.1%}-{high:.1%}"
            )


SAMPLES_DIR = Path(__file__).resolve().parent.parent / "samples" / "letters"


def _serve_command(main: click.Group) -> None:
    @main.command()
    @click.option("--host", default="127.0.0.1", show_default=True)
    @click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
    @click.option(
        "--production",
        cls=EnvOption,
        is_flag=True,
        envvar="IMR_SEARCH_PRODUCTION",
        help="Serve with granian, a production HTTP server, instead of Werkzeug's development "
        "server [env IMR_SEARCH_PRODUCTION].",
    )
    @click.option(
        "--threads",
        cls=EnvOption,
        type=click.IntRange(1, 256),
        default=None,
        envvar="IMR_SEARCH_THREADS",
        help="Worker threads of each production server process [env IMR_SEARCH_THREADS; "
        "default 2 on the embedded store, whose searches hold the interpreter lock (more threads "
        "only share one core), 8 on Elasticsearch, whose requests wait on the network].",
    )
    @click.option(
        "--workers",
        cls=EnvOption,
        type=click.IntRange(1, 64),
        default=1,
        show_default=True,
        envvar="IMR_SEARCH_WORKERS",
        help="Server processes of the production server, each with its own copy of the index "
        "in memory; one per core serves the most requests [env IMR_SEARCH_WORKERS].",
    )
    @click.option(
        "--samples/--no-samples",
        default=True,
        show_default=True,
        help="On an empty index, first index the bundled sample letters.",
    )
    @click.pass_context
    def serve(
        ctx: click.Context,
        host: str,
        port: int,
        production: bool,
        threads: int | None,
        workers: int,
        samples: bool,
    ) -> None:
        """Run the web app (search, letters, statistics, export, JSON API).

        If the back end cannot be reached the app starts all the same: its pages answer 503
        until the back end is back, and /healthz says so.
        """
        from .serving import check_port, run_server, web_app

        if workers > 1 and not production:
            raise click.UsageError("--workers needs --production")
        store = _store(ctx, damaged_ok=True)  # a damaged index: 503 pages until rebuilt
        # 32 clients on 100k chunks, two processes (bench/load.sh, BENCHMARKS.md): under waitress
        # 8 threads answered 105-119 requests/s, 2 threads 125-151; under granian 1 thread is a
        # few percent cheaper than 2. Two keep a slow request (an export) from holding up the
        # rest of its process's queue.
        threads = threads or (2 if store.name == "embedded" else 8)
        try:
            empty = store.counts()[0] == 0
        except StoreUnavailable as exc:
            until = "it is rebuilt" if isinstance(exc, IndexDamaged) else "it answers"
            click.echo(f"warning: {exc}; serving anyway (503 until {until})", err=True)
            empty = False
        try:
            check_port(host, port)
        except OSError as exc:
            raise click.ClickException(
                f"cannot listen on {host}:{port}: {exc.strerror or exc}"
            ) from None
        if empty and samples:
            _index_samples(ctx, store)
        if production:
            store.close()  # each worker process opens its own
            processes = f"{workers} processes of " if workers > 1 else ""
            click.echo(
                f"Serving on http://{host}:{port}/ ({store.name} back end, granian, "
                f"{processes}{threads} threads); Ctrl-C stops."
            )
            run_server(
                host, port, workers, threads, ctx.obj.get("backend"), ctx.obj.get("data_dir")
            )
            return
        app = web_app(ctx.obj.get("backend"), ctx.obj.get("data_dir"), store)
        # `docker stop` sends SIGTERM, which a process running as PID 1 would otherwise ignore.
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        click.echo(
            f"Serving on http://{host}:{port}/ ({store.name} back end, development server); "
            "Ctrl-C stops."
        )
        app.run(host=host, port=port, debug=False, threaded=True, use_reloader=False)


class _NotSwitched(Exception):
    """The rebuilt index must not go live: the reason."""


def _rebuild(
    ctx: click.Context,
    store: Store,
    paths: tuple[str, ...],
    batch_size: int | None,
    allow_failures: bool,
    allow_empty: bool,
) -> list[tuple[str, str]]:
    """Build a new index from `paths` and switch to it if it is complete, non-empty and
    verified; otherwise delete it, leave the index in use as it is, and fail with one line
    that says why and what the index in use holds."""
    from .pipeline import IndexingStopped

    generation = store.begin_reindex()
    try:
        target = store.reindex_target(generation)
        summary, failures = _index_into(ctx, target, paths, True, batch_size, stopping=True)
        if failures and not allow_failures:
            raise _NotSwitched(
                f"{len(failures)} file{'s' if len(failures) > 1 else ''} failed "
                "(--allow-failures switches all the same)"
            )
        if summary.indexed == 0 and not allow_empty:
            raise _NotSwitched("it holds no letters (--allow-empty switches all the same)")
        verify = getattr(store, "verify_rebuild", None)
        if verify is not None:
            from .stores.embedded import RebuildCheckFailed

            try:
                built = verify(generation)
            except RebuildCheckFailed as exc:
                raise _NotSwitched(f"it failed its check: {exc}") from None
            if built != (summary.indexed, summary.chunks):
                raise _NotSwitched(
                    f"it failed its check: it holds {built[0]} letters, {built[1]} chunks, "
                    f"where {summary.indexed} letters, {summary.chunks} chunks were written"
                )
        try:
            store.finish_reindex(generation)
        except StoreWriteError as exc:  # ACTIVE could not be replaced: it names the old index
            raise _NotSwitched(f"{exc} while switching") from None
    except _NotSwitched as exc:
        store.abort_reindex(generation)
        raise click.ClickException(
            f"the new index was not switched to: {exc}; it was deleted, and {_in_use(store)}"
        ) from None
    except IndexingStopped as exc:
        store.abort_reindex(generation)
        done = exc.summary.indexed
        if done:
            what = f": the rebuild stopped after {done} letters and was deleted; "
        else:
            what = "; nothing was rebuilt, "
        raise click.ClickException(f"{exc.cause}{what}{_in_use(store)}") from None
    except _backend_errors() as exc:
        store.abort_reindex(generation)
        raise click.ClickException(f"{exc}; nothing was rebuilt, {_in_use(store)}") from None
    except BaseException:
        store.abort_reindex(generation)
        raise
    return failures


def _in_use(store: Store) -> str:
    """What the index in use still holds, for a failed rebuild's message."""
    try:
        letters, chunks = store.counts()
    except _backend_errors():
        return "the index in use is unchanged"
    return f"the index in use is unchanged ({letters} letters, {chunks} chunks)"


def _index_samples(ctx: click.Context, store: Store) -> None:
    """Index the sample letters into an empty index, as a writer (holding the writer lock)."""
    sample_dir = Path(os.environ.get("IMR_SEARCH_SAMPLES") or SAMPLES_DIR)
    lock = _write_lock(ctx)
    try:
        lock.__enter__()
    except click.ClickException as exc:  # another writer, busy for long: it fills the index
        click.echo(f"warning: {exc.format_message()}; serving without the samples", err=True)
        return
    try:
        if store.counts()[0]:  # another writer filled it while we waited
            return
        click.echo(f"The index is empty: indexing the sample letters in {sample_dir} first.")
        summary, _ = _index_into(ctx, store, (str(sample_dir),), False, 16)
    finally:
        lock.__exit__(None, None, None)
    click.echo(f"{summary.indexed} letters indexed ({summary.chunks} chunks).")


def _index_into(
    ctx: click.Context,
    store: Store,
    paths: tuple[str, ...],
    force: bool,
    batch_size: int | None,
    *,
    stopping: bool = False,
):
    """Index `paths` into `store`, reporting each bad file on stderr. A write the store refuses
    ends the command with one line, or, with `stopping`, raises `IndexingStopped`."""
    from tqdm import tqdm

    from .pipeline import IndexingStopped, index_paths

    failures: list[tuple[str, str]] = []

    def on_error(source: str, reason: str) -> None:
        failures.append((source, reason))
        tqdm.write(f"error: {printable(source)}: {reason}", file=sys.stderr)

    bar = tqdm(unit=" letters", file=sys.stderr, disable=None, dynamic_ncols=True)
    chunks_done = 0

    def progress(letters: int, chunks: int) -> None:
        nonlocal chunks_done
        chunks_done += chunks
        bar.update(letters)
        rate = chunks_done / max(bar.format_dict["elapsed"], 1e-9)
        bar.set_postfix_str(f"{chunks_done} chunks, {rate:.1f} chunks/s", refresh=False)

    try:
        summary = index_paths(
            list(paths),
            store,
            lambda: _embedder(ctx, store),  # loaded only if some letter needs embedding
            on_error,
            batch_size=batch_size or store.letters_per_write,
            force=force,
            progress=progress,
        )
    except StoreUnavailable as exc:
        raise click.ClickException(str(exc)) from None
    except IndexingStopped as exc:
        bar.close()
        for source, reason in exc.summary.failed:
            click.echo(f"error: {printable(source)}: {reason}", err=True)
        if stopping:
            raise
        raise click.ClickException(str(exc)) from None
    finally:
        bar.close()
    for source, reason in summary.failed:
        click.echo(f"error: {printable(source)}: {reason}", err=True)
        failures.append((source, reason))
    return summary, failures


def _print_verify(report, where: str) -> None:
    if not report.compared:
        for problem in report.damaged:
            click.echo(f"damaged: {problem}")
        click.echo(
            f"the index in '{where}' is damaged: 'imr-search reindex PATH' rebuilds it from the "
            "letter files"
        )
        return
    click.echo(
        f"{report.files} files, {report.indexed} letters indexed: {report.unchanged} unchanged, "
        f"{len(report.missing)} missing, {len(report.extra)} extra, {len(report.stale)} stale, "
        f"{len(report.duplicates)} duplicated, {len(report.unreadable)} unreadable"
    )
    for file, letter_id in report.missing:
        click.echo(f"missing: {file} ({letter_id} is not indexed)")
    for letter_id, source in report.extra:
        click.echo(f"extra: {letter_id} (indexed from {source}, not found under the paths)")
    for file, letter_id, why in report.stale:
        click.echo(f"stale: {file} ({letter_id}: {why})")
    for letter_id, files in report.duplicates:
        click.echo(f"duplicate: {letter_id} is in {', '.join(files)}")
    for file, reason in report.unreadable:
        click.echo(f"unreadable: {file}: {reason}")
    if report.chunks != report.letter_chunks:
        click.echo(
            f"chunks: the index holds {report.chunks}, its letters {report.letter_chunks} "
            "(a write was cut short): 'imr-search reindex PATH' rebuilds it"
        )
    if report.consistent:
        click.echo("the index holds exactly the letters of these files")
    else:
        click.echo(
            "the index does not match these files: 'imr-search index PATH' adds the missing and "
            "the stale, 'imr-search delete LETTER_ID' removes the extra"
        )


def _plain(html: str) -> str:
    from html import unescape

    return unescape(html.replace("<mark>", "[").replace("</mark>", "]"))
