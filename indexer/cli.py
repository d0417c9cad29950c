"""The `imr-search` command line."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator

import click

from .letters.errors import LetterError, printable
from .letters.reader import iter_letter_paths
from .letters.record import Letter
from .settings import EnvOption


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="imr-search")
@click.option(
    "--backend",
    type=click.Choice(["embedded", "elasticsearch"]),
    default=None,
    help="Search back end (default: elasticsearch when ELASTICSEARCH_URL is set, else embedded).",
)
@click.option(
    "--data-dir",
    cls=EnvOption,
    type=click.Path(file_okay=False),
    envvar="IMR_SEARCH_DATA_DIR",
    default=None,
    help="Embedded index directory [env IMR_SEARCH_DATA_DIR; default ~/.local/share/imr-search].",
)
@click.pass_context
def main(ctx: click.Context, backend: str | None, data_dir: str | None) -> None:
    """Search California workers' compensation Independent Medical Review (IMR) letters."""
    ctx.obj = {"backend": backend, "data_dir": data_dir}


def _parsed_letters(paths: tuple[str, ...], failures: list[LetterError]) -> Iterator[Letter]:
    """Parse every letter under `paths`, reporting each bad file on stderr and carrying on."""
    from .letters.parser import parse_letter

    for path, error in iter_letter_paths(list(paths)):
        try:
            if error:
                raise error
            yield parse_letter(path)
        except LetterError as exc:
            failures.append(exc)
            click.echo(f"error: {printable(exc.source)}: {exc.reason}", err=True)
        except Exception as exc:  # noqa: BLE001 - one letter's bug must not stop the batch
            failure = LetterError(
                path, f"internal error ({type(exc).__name__}: {exc}); please report this letter"
            )
            failures.append(failure)
            click.echo(f"error: {printable(failure.source)}: {failure.reason}", err=True)


def _run(paths: tuple[str, ...], emit: Callable[[Letter], None]) -> None:
    failures: list[LetterError] = []
    count = 0
    for letter in _parsed_letters(paths, failures):
        try:
            emit(letter)
        except LetterError as exc:  # a letter that parses but cannot be chunked (too long)
            failures.append(exc)
            click.echo(f"error: {printable(exc.source)}: {exc.reason}", err=True)
            continue
        count += 1
    if failures:
        click.echo(f"{count} letters parsed, {len(failures)} failed", err=True)
        sys.exit(1)


@main.command()
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
@click.option(
    "--json", "as_json", is_flag=True, help="Print one JSON record per letter, one per line."
)
@click.option(
    "--with-text", is_flag=True, help="With --json, include the normalised and original text."
)
def parse(paths: tuple[str, ...], as_json: bool, with_text: bool) -> None:
    """Parse letters (.pdf, .txt, or folders of them) into structured records.

    Bad files are reported on stderr, one line each, and the rest are still parsed;
    the exit code is 1 if any file failed.
    """

    def emit(letter: Letter) -> None:
        if as_json:
            click.echo(json.dumps(letter.to_dict(with_text=with_text), ensure_ascii=False))
            return
        click.echo(
            f"{letter.letter_id}  {letter.decision_date or '----------'}  {letter.layout}  "
            f"{letter.source}"
        )
        for item in letter.items:
            treatment = item.treatment.get("name") or "-"
            click.echo(f"    {item.decision:<10}  {item.request}  [{treatment}]")

    _run(paths, emit)


@main.command()
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
@click.option(
    "--json", "as_json", is_flag=True, help="Print one JSON object per chunk, one per line."
)
def chunks(paths: tuple[str, ...], as_json: bool) -> None:
    """Cut letters into the search chunks the index stores (case summary and each item)."""
    from .chunking import chunk_letter
    from .model import load_tokenizer

    tokenizer = load_tokenizer()

    def emit(letter: Letter) -> None:
        for chunk in chunk_letter(letter, tokenizer):
            if as_json:
                click.echo(json.dumps(chunk.to_dict(), ensure_ascii=False))
            else:
                preview = chunk.text.replace("\n", " ")[:90]
                click.echo(f"{chunk.chunk_id:<32} {chunk.token_count:>4} tok  {preview}")

    _run(paths, emit)


from .commands import register  # noqa: E402 - the index/search commands live in their own module

register(main)


if __name__ == "__main__":
    main()
