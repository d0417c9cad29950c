"""Index generations: the concrete indices behind the store's aliases, and their rebuild.

Indices and aliases
-------------------
Two aliases are the store's names: ``<alias>`` (chunk documents, one per chunk, ``_id`` =
chunk_id) and ``<alias>-letters`` (one record per letter, ``_id`` = letter_id). Each points at
one concrete index of a *generation*: ``<alias>-<stamp>`` and ``<alias>-letters-<stamp>``, where
``<stamp>`` is the UTC creation time (``20261123t154300123456z``). Searches and reads always go
through the aliases; writes go through them too, except during a rebuild.

Rebuilding the index (the ``imr-search reindex`` command)::

    gen = store.begin_reindex()      # creates a new, empty generation; writes now go to it
    try:
        for batch in batches:
            store.upsert(batch)      # indexes into the new generation; searches still
                                     # see the old one through the aliases
    except BaseException:
        store.abort_reindex(gen)     # deletes the new generation; aliases untouched
        raise
    store.finish_reindex(gen)        # ONE atomic _aliases request moves both aliases, then
                                     # (only if it succeeded) the old indices are deleted

The building blocks are public too: `create_generation`, `use_generation`, `swap_aliases`,
`drop_indices`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from .errors import StoreError
from .requests import build_alias_actions, build_index_body

if TYPE_CHECKING:
    from .store import ElasticsearchStore

# The package's logger, named as before the package was split into modules.
log = logging.getLogger(__package__)

#: Suffix of the letters alias and of its concrete indices.
LETTERS_SUFFIX = "-letters"


@dataclass(frozen=True)
class Generation:
    """A pair of concrete indices built together: the chunks index and the letters index."""

    stamp: str
    chunks_index: str
    letters_index: str

    @property
    def indices(self) -> tuple[str, str]:
        """Both index names."""
        return (self.chunks_index, self.letters_index)


def generation_names(alias: str, stamp: str) -> Generation:
    """Return the generation of `alias` with the given stamp."""
    return Generation(stamp, f"{alias}-{stamp}", f"{alias}{LETTERS_SUFFIX}-{stamp}")


def new_stamp(now: datetime | None = None) -> str:
    """Return a generation stamp: the UTC time, down to microseconds, lower case."""
    now = now or datetime.now(UTC)
    return now.astimezone(UTC).strftime("%Y%m%dt%H%M%S%fz")


class GenerationsMixin:
    """`ElasticsearchStore`'s methods that create, switch and delete its indices."""

    def index_body(self, kind: str) -> dict[str, Any]:
        """Return the create-index body of `kind` with this store's shard counts."""
        return build_index_body(kind, self.shards, self.replicas)

    def ensure_index(self) -> None:
        """Create the indices behind each alias that does not exist yet, alias included."""
        self._check_version()
        stamp = new_stamp()
        gen = generation_names(self.alias, stamp)
        for kind, alias, index in (
            ("chunks", self.alias, gen.chunks_index),
            ("letters", self.letters_alias, gen.letters_index),
        ):
            with self._calls(f"checking alias {alias}"):
                exists = bool(self.client.indices.exists_alias(name=alias))
            if exists:
                continue
            body = {**self.index_body(kind), "aliases": {alias: {"is_write_index": True}}}
            with self._calls(f"creating index {index}"):
                self._slow().indices.create(index=index, body=body)
            log.info("created index %s behind alias %s", index, alias)
        self._ensured = True

    def create_generation(self) -> Generation:
        """Create a new, empty pair of concrete indices (no alias points at them yet)."""
        self._check_version()
        gen = generation_names(self.alias, new_stamp())
        created: list[str] = []
        try:
            for kind, index in (("chunks", gen.chunks_index), ("letters", gen.letters_index)):
                with self._calls(f"creating index {index}"):
                    self._slow().indices.create(index=index, body=self.index_body(kind))
                created.append(index)
        except BaseException:
            if created:
                self.drop_indices(created, quiet=True)
            raise
        return gen

    def use_generation(self, gen: Generation | None) -> None:
        """Direct writes (`upsert`, `delete`) to `gen`'s indices, or back to the aliases."""
        self._target = gen

    def swap_aliases(self, gen: Generation) -> list[str]:
        """Point both aliases at `gen` in ONE atomic `_aliases` request; return the indices they
        pointed at before (now unused, not deleted). Raises and changes nothing on failure."""
        removes: list[tuple[str, str]] = []
        for alias, new in ((self.alias, gen.chunks_index), (self.letters_alias, gen.letters_index)):
            removes += [(old, alias) for old in self._alias_targets(alias) if old != new]
        adds = [(gen.chunks_index, self.alias), (gen.letters_index, self.letters_alias)]
        body = build_alias_actions(removes, adds)
        with self._calls(f"moving aliases {self.alias}, {self.letters_alias}"):
            self.client.indices.update_aliases(body=body)
        self._ensured = True
        return sorted({old for old, _ in removes} - set(gen.indices))

    def drop_indices(
        self, names: Iterable[str], *, quiet: bool = False, check_aliases: bool = True
    ) -> list[str]:
        """Delete the given concrete indices of this store in one request; return their names.

        Only names of this store's generations (`<alias>-...`, no wildcards) are deleted and,
        with `check_aliases`, never one that an alias points at. With `quiet`, a failure is
        logged instead of raised.
        """
        try:
            mine = [
                n for n in dict.fromkeys(names) if n.startswith(self.alias + "-") and "*" not in n
            ]
            if mine and check_aliases:
                live = set(self._alias_targets(self.alias))
                live |= set(self._alias_targets(self.letters_alias))
                mine = [n for n in mine if n not in live]
            if mine:
                with self._calls(f"deleting indices {', '.join(mine)}"):
                    # One missing name must not make the whole request fail (404).
                    self._slow().indices.delete(index=mine, ignore_unavailable=True)
            return mine
        except StoreError as exc:
            if not quiet:
                raise
            log.warning("%s", exc)
            return []

    def begin_reindex(self) -> Generation:
        """Create a new generation and send this store's writes to it (see the module doc)."""
        gen = self.create_generation()
        self.use_generation(gen)
        return gen

    def finish_reindex(self, gen: Generation) -> list[str]:
        """Refresh `gen`, switch both aliases to it atomically, then delete the old indices.

        If the switch fails, the old indices are kept, the aliases are unchanged, writes still
        go to `gen`, and the error is raised (call `abort_reindex`). A failure to delete the
        old indices after a successful switch is only logged. Returns the indices deleted.
        """
        with self._calls(f"refreshing {', '.join(gen.indices)}"):
            self._slow().indices.refresh(index=list(gen.indices))
        old = self.swap_aliases(gen)
        self.use_generation(None)
        # The swap just moved the aliases off `old`, atomically: no need to look again.
        return self.drop_indices(old, quiet=True, check_aliases=False)

    def reindex_target(self, gen: Generation) -> ElasticsearchStore:
        """Return the store that writes into the rebuild: this one, since `begin_reindex`."""
        self.use_generation(gen)
        return self

    def drop_all(self) -> list[str]:
        """Delete every index of this store's aliases (for tests and `imr-search` teardown)."""
        names = self._alias_targets(self.alias) + self._alias_targets(self.letters_alias)
        return self.drop_indices(names, quiet=False, check_aliases=False)

    def abort_reindex(self, gen: Generation) -> None:
        """Give up a rebuild: writes go back to the aliases and `gen`'s indices are deleted
        (unless an alias already points at them)."""
        self.use_generation(None)
        self.drop_indices(gen.indices, quiet=True)
