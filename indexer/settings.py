"""Numeric settings from the environment, checked up front so that a bad value is one line that
names the variable, never a traceback in the middle of a search or a write."""

from __future__ import annotations

import math
import os

import click
from click.core import ParameterSource

#: Seconds a writing command waits for another writer to finish (see `locking.py`).
LOCK_TIMEOUT_ENV = "IMR_SEARCH_LOCK_TIMEOUT"
LOCK_TIMEOUT_DEFAULT = 10.0
#: Read by `stores/vectors.py` on every vector search; checked here before any is made.
HNSW_MIN_CHUNKS_ENV = "IMR_SEARCH_HNSW_MIN_CHUNKS"


class SettingError(click.ClickException):
    """An environment variable whose value cannot be used (exit code 1, one line)."""


def env_number(name: str, default: float, kind: type = float) -> float:
    """The value of the numeric environment variable `name` (0 or more), else `default`."""
    raw = os.environ.get(name)
    value = (raw or "").strip()
    if not value:
        return kind(default)
    try:
        number = kind(value)
    except ValueError:
        whole = "whole " if kind is int else ""
        raise SettingError(f"{name} must be a {whole}number, not {raw!r}") from None
    if not math.isfinite(number) or number < 0:
        raise SettingError(f"{name} must be 0 or more, not {raw!r}")
    return number


def lock_timeout() -> float:
    """Seconds a writer waits for another one (IMR_SEARCH_LOCK_TIMEOUT, default 10)."""
    return env_number(LOCK_TIMEOUT_ENV, LOCK_TIMEOUT_DEFAULT)


def check_store_settings() -> None:
    """Check the settings the embedded store reads while it searches."""
    env_number(HNSW_MIN_CHUNKS_ENV, 0, int)


class EnvOption(click.Option):
    """An option that can come from an environment variable: an invalid value names the
    variable it came from, not only the option nobody typed."""

    def get_error_hint(self, ctx: click.Context) -> str:
        hint = super().get_error_hint(ctx)
        if (
            self.name is not None
            and isinstance(self.envvar, str)
            and ctx.get_parameter_source(self.name) == ParameterSource.ENVIRONMENT
        ):
            return f"{hint} (from {self.envvar})"
        return hint
