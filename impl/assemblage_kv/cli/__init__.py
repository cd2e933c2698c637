"""The `assemblage-kv` command line (also `python -m assemblage_kv`); docs/cli.md.

Every error is one line on stderr and a non-zero exit status: 1 for what the store or
the command refuses (the project's KvError, or an OSError), 2 for a command line
argparse cannot read, 130 for Ctrl-C. Never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn, TextIO

from .._clock import Clock, wall_clock
from .._errors import CorruptStore, KvError
from ._changes import changes
from ._checking import check, repair
from ._common import Output
from ._dumping import dump, load
from ._fuzz import fuzz
from ._info import info
from ._reading import get, history, keys
from ._writing import merge, put, rm

PROG = "assemblage-kv"

Command = Callable[[argparse.Namespace, Output], int]


def _slot(text: str) -> int:
    if not text.isdigit() or not 0 <= int(text) <= 255:
        raise argparse.ArgumentTypeError(f"a slot is an int from 0 to 255, not {text!r}")
    return int(text)


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors on one line (it prints the whole usage first)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


TIME = (
    "ms since the epoch, ISO 8601 (UTC unless it says otherwise), or a duration "
    "before now: 45s, 30m, 12h, 7d, 1w"
)


def _count(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"a count is an int >= 0, not {text!r}")
    return int(text)


def parser() -> argparse.ArgumentParser:
    common = _Parser(add_help=False)
    common.add_argument("--json", action="store_true", help="answer in JSON")
    main = _Parser(
        prog=PROG,
        description="Inspect, change, check and repair an AssemblageKV store. Keys and "
        'values are JSON; bytes are {"$bytes": "<base64>"} (docs/cli.md).',
    )
    commands = main.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, run: Command, text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, parents=[common], help=text, description=text)
        sub.add_argument("store", help="the store's log file")
        sub.set_defaults(run=run)
        return sub

    def keyed(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("key", help="the key, as JSON (a string is quoted: '\"name\"')")
        sub.add_argument("--slot", type=_slot, default=0, help="the key's slot (default 0)")

    def at(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--at", metavar="TIME", help=f"read the store as of TIME ({TIME})")

    command("info", info, "what the store holds, and what opening it would cut")
    sub = command("keys", keys, "list the live keys, as slot and key")
    sub.add_argument("--slot", type=_slot, help="only this slot (default: all)")
    at(sub)
    sub = command("get", get, "print a key's value (exit 1 if it is missing or removed)")
    keyed(sub)
    at(sub)
    sub = command("put", put, "set a key to a value, in one transaction")
    keyed(sub)
    sub.add_argument("value", help="the value, as JSON")
    sub = command("rm", rm, "remove a key (exit 1, writing nothing, if it is not there)")
    keyed(sub)
    sub = command(
        "history", history, "every version of a key: its time, and its value or that it was removed"
    )
    keyed(sub)
    at(sub)
    sub = command(
        "merge",
        merge,
        "rewrite the log with only the latest versions (and the "
        "history asked to keep); prints the sizes",
    )
    sub.add_argument(
        "--keep-since",
        metavar="TIME",
        help=f"also keep every version committed at or after TIME ({TIME})",
    )
    sub.add_argument(
        "--keep-last", metavar="N", type=_count, help="also keep the last N versions of each key"
    )
    sub = command(
        "changes",
        changes,
        "the change feed: each committed transaction with "
        "its writes, oldest first, and where it ends in the log (to resume from)",
    )
    sub.add_argument(
        "--since", metavar="TIME", help=f"only those committed at or after TIME ({TIME})"
    )
    sub.add_argument(
        "--after-offset",
        metavar="N",
        type=_count,
        help="only those after offset N: the end (after ..) of the last one a follower has",
    )
    command(
        "check",
        check,
        "read the whole log, without locking or changing it; report "
        "the first damage and what it costs (exit 1 if any)",
    )
    sub = command(
        "repair",
        repair,
        "write the transactions that are proven intact to a new "
        "store next to the damaged one, which is never modified",
    )
    sub.add_argument("--output", "-o", help="the new store's path (default: STORE.repaired)")
    sub = command("dump", dump, "write every transaction as JSON lines")
    sub.add_argument("--output", "-o", help="the file to write (default: stdout)")
    sub = command(
        "load", load, "write a dump's transactions into a new store: the dumped log, byte for byte"
    )
    sub.add_argument("input", help="the dump's file, or - for stdin")
    fuzz = commands.add_parser(
        "fuzz",
        help="run the crash campaign (needs the 'fuzz' extra); its options follow",
        add_help=False,
    )
    fuzz.add_argument("arguments", nargs=argparse.REMAINDER)
    return main


def main(
    argv: Sequence[str] | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    *,
    clock: Clock = wall_clock,
) -> int:
    """Run one command; its exit status. `clock` is what `put` commits with and what a
    duration (`--since 7d`) counts back from: tests pass one that stands still."""
    out_stream = sys.stdout if stdout is None else stdout
    err_stream = sys.stderr if stderr is None else stderr
    arguments = sys.argv[1:] if argv is None else list(argv)
    if arguments[:1] == ["fuzz"]:  # all its options are the campaign's, --help included
        out = Output(False, out_stream, err_stream)
        run: Callable[[], int] = lambda: fuzz(arguments[1:], out)  # noqa: E731
    else:
        args = parser().parse_args(arguments)
        out = Output(args.json, out_stream, err_stream)
        args.clock = clock
        run = lambda: int(args.run(args, out))  # noqa: E731
    try:
        return run()
    except CorruptStore as error:
        out.note(
            f"error: {error}; `{PROG} check` tells what is damaged, and `{PROG} repair` "
            "copies what is intact to a new store"
        )
    except KvError as error:
        out.note(f"error: {error}")
    except BrokenPipeError:  # the reader went away (`| head`): nothing more to say
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115  (Python flushes it at exit)
        return 1
    except OSError as error:
        where = f": {error.filename}" if error.filename else ""
        out.note(f"error: {error.strerror or error}{where}")
    except KeyboardInterrupt:
        out.note("interrupted")
        return 130
    except Exception as error:  # a bug of ours: still one line, with what to report
        out.note(
            f"error: unexpected {type(error).__name__}: {error} (this is a bug of "
            f"{PROG}: please report it with the command that caused it)"
        )
    return 1
