"""The crate's own example, step by step, on a real file: `python -m assemblage_kv.demo [PATH]`.

Prints each step and what it reads, and exits with status 1 if any answer differs
from what the original crate's example asserts. PATH should not exist yet (a store
that already holds key1 answers differently); without PATH, the store lives in a
temporary directory that is removed afterwards.
"""

from __future__ import annotations

import os
import sys
import tempfile
from typing import Any

import assemblage_kv as kv

SLOT = 0
KEY = "key1"


class _Demo:
    def __init__(self) -> None:
        self.failures = 0

    def expect(self, what: str, got: Any, wanted: Any) -> None:
        ok = got == wanted
        self.failures += not ok
        print(f"  {what} -> {got!r}" + ("" if ok else f"   MISMATCH: expected {wanted!r}"))


def run(path: str) -> int:
    """Run the example on the store at `path`; return the number of wrong answers."""
    demo = _Demo()
    print(f"opening {path}")
    store = kv.open(path)
    with store:
        print("transaction 1: read key1, insert key1 = 1, commit")
        with store.current() as txn:
            demo.expect("get(0, 'key1')", txn.get(SLOT, KEY), None)
            txn.insert(SLOT, KEY, 1)
        print(f"  log is now {store.log_size()} bytes")

        print("transaction 2: read key1, remove key1, commit")
        with store.current() as txn:
            demo.expect("get(0, 'key1')", txn.get(SLOT, KEY), 1)
            txn.remove(SLOT, KEY)

        print("transaction 3: read key1, insert key1 = 3, commit")
        with store.current() as txn:
            demo.expect("get(0, 'key1')", txn.get(SLOT, KEY), None)
            txn.insert(SLOT, KEY, 3)

        print("transaction 4: every version of key1 is still there")
        with store.current() as txn:
            versions = txn.versions(SLOT, KEY)
            demo.expect("len(versions(0, 'key1'))", len(versions), 3)
            demo.expect(
                "is_removed of each version", [v.is_removed for v in versions], [False, True, False]
            )
            for number, (version, wanted) in enumerate(zip(versions, [1, None, 3], strict=False)):
                demo.expect(
                    f"get_version(0, 'key1', versions[{number}])",
                    txn.get_version(SLOT, KEY, version),
                    wanted,
                )
            demo.expect("get_unremoved(0, 'key1')", txn.get_unremoved(SLOT, KEY), 3)

        before = store.log_size()
        print("merge: keep only the latest version of each key")
        store.merge()
        print(f"  log went from {before} to {store.log_size()} bytes")

    print(f"reopening {path}")
    with kv.open(path) as store, store.current() as txn:
        versions = txn.versions(SLOT, KEY)
        demo.expect("len(versions(0, 'key1'))", len(versions), 1)
        demo.expect("get(0, 'key1')", txn.get(SLOT, KEY), 3)
        demo.expect("keys(0)", txn.keys(SLOT), [KEY])
    return demo.failures


def main(argv: list[str]) -> int:
    """Entry point: the optional argument is the path of the store file to use."""
    if len(argv) > 1:
        print(f"usage: python -m assemblage_kv.demo [PATH]  (got {len(argv)} arguments)")
        return 2
    if argv:
        failures = run(argv[0])
    else:
        with tempfile.TemporaryDirectory() as directory:
            failures = run(os.path.join(directory, "demo.aeon"))
    print("all answers as expected" if failures == 0 else f"{failures} answers differ")
    return 0 if failures == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
