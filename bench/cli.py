"""`python -m bench [--quick] [--only W,..] [--stores S,..] [--repeat R] [--scaling]`.

Prints the markdown report and writes it, with every number as JSON, to
bench/results/latest.md and latest.json (or --out DIR).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from bench import crash, fsyncs, report, runner, scaling
from bench.config import ROOT, WORKLOADS, Config
from bench.stores import ADAPTERS, OURS, installed
from bench.targets import evaluate

QUICK = {
    "n": 5_000,
    "commits": 200,
    "calls": 2_000,
    "concurrent_seconds": 0.5,
    "crash_seconds": 10.0,
    "repeat": 1,
}


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _names(text: str, allowed: tuple[str, ...], what: str) -> tuple[str, ...]:
    names = tuple(name.strip() for name in text.split(",") if name.strip())
    unknown = [name for name in names if name not in allowed]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown {what} {', '.join(unknown)}; choose from {', '.join(allowed)}"
        )
    return names


def parse(argv: list[str] | None) -> tuple[Config, bool]:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"small sizes ({', '.join(f'{k}={v}' for k, v in QUICK.items())})",
    )
    parser.add_argument(
        "--only",
        type=lambda t: _names(t, WORKLOADS, "workload"),
        help=f"comma-separated workloads: {', '.join(WORKLOADS)}",
    )
    parser.add_argument(
        "--stores",
        type=lambda t: _names(t, tuple(ADAPTERS), "store"),
        help=f"comma-separated stores (default all): {', '.join(ADAPTERS)}",
    )
    parser.add_argument("--repeat", type=int, help="repetitions, medians reported (default 3)")
    parser.add_argument("--n", type=int, help="keys (default 50,000)")
    parser.add_argument("--commits", type=int, help="durable 1-put commits (default 2,000)")
    parser.add_argument("--crash-seconds", type=float, help="seconds of each crash campaign (20)")
    parser.add_argument(
        "--baseline", default="fec2624", help="git revision the crash campaign is compared with"
    )
    parser.add_argument("--out", type=Path, help="folder for latest.md and latest.json")
    parser.add_argument(
        "--scaling",
        action="store_true",
        help="instead: how assemblage_kv grows with keys and versions",
    )
    args = parser.parse_args(argv)
    config = Config(baseline=args.baseline, quick=args.quick)
    if args.quick:
        config = replace(config, **QUICK)  # type: ignore[arg-type]
    given = {
        "n": args.n,
        "commits": args.commits,
        "repeat": args.repeat,
        "crash_seconds": args.crash_seconds,
        "out": args.out,
    }
    config = replace(config, **{k: v for k, v in given.items() if v is not None})
    config = replace(config, stores=args.stores or tuple(ADAPTERS), only=frozenset(args.only or ()))
    return config, args.scaling


def machine() -> dict[str, Any]:
    """Where and when the numbers were measured."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    revision = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    return {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "platform": platform.platform(),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "revision": revision,
    }


def run(config: Config) -> str:
    """Every selected workload; writes the report and the JSON, returns the report."""
    notes = []
    stores = []
    for store in config.stores:
        if installed(store):
            stores.append(store)
        else:
            module = ADAPTERS[store].module
            notes.append(
                f"{store} skipped: its module {module!r} is not installed "
                "(pip install -e '.[bench]')"
            )
            say(notes[-1])
    runs = runner.run_stores(config, stores, say)
    notes += [f"failed: {failure}" for failure in runs.failures]
    extras: dict[str, Any] = {}
    extras["syncs_how"] = "not counted in this run"
    if config.runs("fsyncs"):
        extras["syncs"] = fsyncs.per_commit(config, stores, say)
        extras["syncs_how"] = "counted with strace -f -c"
        if extras["syncs"] is None:
            extras["syncs_how"] = "NOT COUNTED: strace is not installed"
            notes.append(
                "sync calls were not counted: strace is not installed; the "
                "guarantees listed are the documented ones"
            )
    if OURS in stores and config.runs("crash"):
        try:
            extras["crash"] = crash.compare(config, say)
        except (crash.CrashRunFailed, subprocess.CalledProcessError) as error:
            extras["crash_error"] = str(error)
            notes.append(f"crash campaign failed: {error}")
    if OURS in stores and config.runs("reopen_1m"):
        extras["million"] = runner.reopen_million(config, say)
    medians = report.per_key(runs.medians(), config)
    verdicts = evaluate(medians, runs.ratios, extras, config.payload)
    about = machine()
    text = report.markdown(medians, config, stores, about, extras, verdicts, notes)
    config.out.mkdir(parents=True, exist_ok=True)
    (config.out / "latest.md").write_text(text)
    everything = {
        "machine": about,
        "config": {**asdict(config), "only": sorted(config.only), "out": _shown(config.out)},
        "stores": stores,
        "medians": medians,
        "repetitions": runs.values,  # row -> metric -> repetition -> value
        "extras": extras,
        "targets": [asdict(verdict) for verdict in verdicts],
        "notes": notes,
    }
    (config.out / "latest.json").write_text(json.dumps(everything, indent=1) + "\n")
    return text


def _shown(path: Path) -> str:
    """The path relative to the repository where it is inside it (the JSON is committed)."""
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else path.name


def main(argv: list[str] | None = None) -> int:
    config, scale = parse(argv)
    text = scaling.run(config, say) if scale else run(config)
    print(text)
    return 0
