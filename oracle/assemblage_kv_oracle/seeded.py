"""Hypothesis as a seeded generator: the same seed gives the same values, wherever it runs.

The recorder's promise (same seed, same traces) and a campaign's (same seed, same
workloads) depend on more than the seed. Hypothesis reads the active settings profile,
and mixes into its draws literals it finds in the source of the local modules loaded
at the time (its "local constants", Hypothesis 6.131 on): the draws would change with
any edit to the oracle, and between a command and a pytest run that loaded other
modules. `for_each` pins both (settings from the default profile, no local constants);
what is left is the seed, the strategies and the Hypothesis version, which the recorder
writes into every random trace.

Hypothesis also keeps caches in `.hypothesis/` of the current directory; `elsewhere`
puts them in a temporary folder, so that a command leaves nothing behind.
"""

from __future__ import annotations

import gzip
import json
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import hypothesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir
from hypothesis.internal import charmap
from hypothesis.internal.conjecture import providers

T = TypeVar("T")

VERSION = hypothesis.__version__

_PINNED = settings(
    settings.get_profile("default"),
    database=None,
    deadline=None,
    derandomize=False,
    phases=[Phase.generate],
    suppress_health_check=list(HealthCheck),
)


@contextmanager
def no_local_constants() -> Iterator[None]:
    """Draw as if the project had no source: only Hypothesis's own constants."""
    if not hasattr(providers, "_get_local_constants"):  # a Hypothesis without them
        yield
        return
    found = providers._get_local_constants
    empty = type(providers.GLOBAL_CONSTANTS)()
    providers._get_local_constants = lambda: empty
    providers.CONSTANTS_CACHE.cache.clear()
    try:
        yield
    finally:
        providers._get_local_constants = found
        providers.CONSTANTS_CACHE.cache.clear()


def for_each(
    strategy: st.SearchStrategy[T], seed: int, examples: int, body: Callable[[T], None]
) -> None:
    """Call `body` on `examples` values of `strategy` drawn from `seed` alone. What is
    drawn may not depend on earlier calls: Hypothesis may replay draws."""

    @hypothesis.seed(seed)
    @settings(_PINNED, max_examples=examples)
    @given(strategy)
    def run(value: T) -> None:
        body(value)

    with no_local_constants():
        run()


@contextmanager
def elsewhere() -> Iterator[None]:
    """Hypothesis's caches in a temporary folder, not `.hypothesis/` here."""
    with tempfile.TemporaryDirectory(prefix="assemblage-kv-hypothesis-") as folder:
        set_hypothesis_home_dir(folder)
        _utf8_table()
        try:
            yield
        finally:
            set_hypothesis_home_dir(None)


UTF8_ENCODABLE = [[0, 0xD7FF], [0xE000, 0x10FFFF]]
"""The code points UTF-8 encodes (all but the surrogates), all of which decode back."""


def _utf8_table() -> None:
    """Hand Hypothesis the table of characters UTF-8 encodes, which `st.text()` needs and
    which it would otherwise work out, one code point at a time (a second or so of every
    command), to cache it in the folder `elsewhere` has just made. The same table, so
    the same draws (tests/test_crash_counts.py compares them); a Hypothesis that no
    longer reads this file just works it out again."""
    try:
        path = charmap.charmap_file("codec-v2-utf-8")
        path.parent.mkdir(parents=True, exist_ok=True)
        with gzip.GzipFile(path, "wb", mtime=1) as table:
            table.write(json.dumps([UTF8_ENCODABLE, []]).encode())
    except (AttributeError, OSError):
        return
