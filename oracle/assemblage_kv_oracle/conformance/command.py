"""`python -m assemblage_kv_oracle.conformance`: the runner's command line.

    traces --port CMD [PATH...] [--out DIR]        the trace corpus (default tests/traces)
    explore --port CMD [--seed 1 --examples 200]   random programs of the oracle's strategies
    machine --port CMD [--seed 1 --examples 100]   the oracle's state machine (port_machine.py)

Results go to stdout, progress and errors to stderr. A difference is shrunk and
written as a trace in --out, with the command that reruns it. Exit status: 0 when
every answer agreed with the spec, 1 on a difference, 2 when nothing could be checked
(a bad command line, a port that cannot be talked to, no trace files).
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn

from assemblage_kv_oracle.conformance.protocol import Port, PortError
from assemblage_kv_oracle.conformance.session import run_trace
from assemblage_kv_oracle.conformance.shrink import Case, Prober, case_of, failing_trace, recorded
from assemblage_kv_oracle.program import TraceError
from assemblage_kv_oracle.trace_format import dumps, load, trace_files

PROG = "python -m assemblage_kv_oracle.conformance"
CORPUS = Path(__file__).resolve().parents[3] / "tests" / "traces"
"""The trace corpus of the clone this runner is installed from (editable install)."""
REFERENCE_PORT = f"{shlex.quote(sys.executable)} -m assemblage_kv_oracle.conformance.port"


class _Parser(argparse.ArgumentParser):
    """argparse, but a bad command line is one line on stderr (exit status 2)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def _at_least(least: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < least:
            raise argparse.ArgumentTypeError(f"{value} is less than {least}")
        return value

    return parse


def parser() -> argparse.ArgumentParser:
    top = _Parser(prog=PROG, description="Check a port of assemblage-kv against the spec.")
    commands = top.add_subparsers(dest="command", required=True, parser_class=_Parser)
    port_help = f"the port's command line, run as a child process (default: {REFERENCE_PORT})"
    out_help = "where a shrunk failing trace is written (default: conformance-failures)"
    traces = commands.add_parser("traces", help="replay trace files on the port")
    traces.add_argument(
        "paths",
        nargs="*",
        default=[str(CORPUS)],
        metavar="PATH",
        help=f"trace files or folders of them (default: {CORPUS})",
    )
    traces.add_argument(
        "--shrink",
        type=_at_least(0),
        default=1,
        metavar="N",
        help="shrink the first N traces that differ (default: 1)",
    )
    explore = commands.add_parser("explore", help="run random programs on the port")
    explore.add_argument("--seed", type=int, default=1, help="same seed, same programs")
    explore.add_argument("--examples", type=_at_least(1), default=200, help="programs to try")
    machine = commands.add_parser("machine", help="run the oracle's state machine on the port")
    machine.add_argument("--seed", type=int, default=1, help="same seed, same runs")
    machine.add_argument("--examples", type=_at_least(1), default=100, help="runs to try")
    for command in (traces, explore, machine):
        command.add_argument("--port", default=REFERENCE_PORT, help=port_help)
        command.add_argument("--out", type=Path, default=Path("conformance-failures"),
                             help=out_help)  # fmt: skip
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        with Port(args.port) as port:
            if args.command == "traces":
                return _traces(port, args.port, args.paths, args.out, args.shrink)
            if args.command == "machine":
                return _machine(port, args.port, args.seed, args.examples, args.out)
            return _explore(port, args.port, args.seed, args.examples, args.out)
    except (PortError, TraceError) as error:
        print(f"{PROG} {args.command}: error: {error}", file=sys.stderr)
        return 2


def _progress(what: str) -> Callable[[int], None]:
    """A count of runs on stderr, when it is a terminal."""

    def show(n: int) -> None:
        if sys.stderr.isatty() and n % 10 == 0:
            print(f"\r{what}: {n} runs", end="", file=sys.stderr, flush=True)

    return show


def _report(
    prober: Prober, case: Case, name: str, description: str, command: str, out: Path
) -> None:
    """Shrink the failing case, write it, say how to rerun it."""
    steps = len(case[2])
    trace = failing_trace(prober, case, name, description)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.json"
    path.write_text(dumps(trace))
    print(f"  shrunk from {steps} steps to {len(trace['steps'])}: {path}")
    print(f"  {trace['description']}")
    print(f"  rerun: {PROG} traces --port {shlex.quote(command)} {shlex.quote(str(path))}")


def _traces(port: Port, command: str, paths: list[str], out: Path, shrinking: int) -> int:
    files = trace_files(paths)
    if not files:
        raise TraceError(f"no trace files in {' '.join(paths)}")
    traces = [load(path) for path in files]
    prober = Prober(port, _progress("shrinking"))
    failures = 0
    for trace in traces:
        found = run_trace(port, trace)
        if found is None:
            continue
        failures += 1
        print(f"MISMATCH {found}")
        if failures <= shrinking:
            _report(prober, case_of(trace), f"{trace['name']}-shrunk",
                    f"{trace['name']}, shrunk.", command, out)  # fmt: skip
    print(f"replayed {len(traces)} traces on {port.name}: "
          f"{len(traces) - failures} of {len(traces)} matched")  # fmt: skip
    return 1 if failures else 0


@contextmanager
def _needing_hypothesis(command: str) -> Iterator[None]:
    """Around the import of a command that draws with Hypothesis, which the runner's
    own install may lack: a missing Hypothesis is one line saying how to get it."""
    try:
        yield
    except ModuleNotFoundError as missing:
        if missing.name != "hypothesis":
            raise
        raise TraceError(f"{command} needs Hypothesis: pip install 'assemblage-kv[fuzz]'") from None


def _explore(port: Port, command: str, seed: int, examples: int, out: Path) -> int:
    with _needing_hypothesis("explore"):
        from assemblage_kv_oracle.conformance.explore import search
    prober = Prober(port, _progress("explore"))
    case = search(prober, seed, examples)
    if case is None:
        print(f"explored {examples} random programs (seed {seed}) on {port.name}: "
              f"every answer agreed with the spec")  # fmt: skip
        return 0
    runs, found = prober.runs, prober.differs(case)
    print(f"MISMATCH a random program (seed {seed}, run {runs}) on {port.name}: "
          f"{found.message if found else 'no difference when run again'}")  # fmt: skip
    _report(prober, case, f"explore-{seed}",
            f"A random program (seed {seed}), shrunk.", command, out)  # fmt: skip
    return 1


def _machine(port: Port, command: str, seed: int, examples: int, out: Path) -> int:
    with _needing_hypothesis("machine"):
        from assemblage_kv_oracle.conformance.port_machine import search
    found = search(port, seed, examples)
    if found is None:
        print(f"ran the state machine {examples} times (seed {seed}) on {port.name}: "
              f"every answer agreed with the spec")  # fmt: skip
        return 0
    case, message = found
    first = message.splitlines()[0] if message else ""
    print(f"MISMATCH the state machine (seed {seed}) on {port.name}: "
          f"{first if len(first) <= 400 else first[:400] + '...'}")  # fmt: skip
    name, description = f"machine-{seed}", f"The state machine (seed {seed}), shrunk."
    prober = Prober(port, _progress("shrinking"))
    if prober.differs(case) is not None:
        _report(prober, case, name, description, command, out)
        return 1
    # A difference the steps alone do not show (a port that answers differently
    # when asked again): the run's steps, unshrunk, are still worth reading.
    trace = recorded(case, name, f"The state machine (seed {seed}): its steps, which "
                     "showed no difference when replayed.")  # fmt: skip
    if trace is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / f"{name}.json").write_text(dumps(trace))
        print(f"  its {len(case[2])} steps replay without a difference: {out / f'{name}.json'}")
    return 1
