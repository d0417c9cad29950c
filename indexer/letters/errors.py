"""The one error a letter can raise: it names the file and says what is wrong with it."""

from __future__ import annotations


class LetterError(Exception):
    """A file that cannot be read or understood as an IMR determination letter."""

    def __init__(self, source: str, reason: str) -> None:
        super().__init__(f"{source}: {reason}")
        self.source = source
        self.reason = reason


def printable(name: str) -> str:
    """Return a file name fit for one line of a terminal: control characters escaped."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in name)
