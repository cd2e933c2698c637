"""The markdown report: one table per group, with ratios against assemblage_kv and the
floors, what each commit guarantees, the workloads only we have, and the targets."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bench.config import Config
from bench.runner import FLOOR
from bench.stores import ADAPTERS, GUARANTEES, OURS
from bench.targets import Verdict

Medians = dict[str, dict[str, float]]

FLOOR_LABELS = {
    "bulk_puts_per_s": "floor: one os.write per 116-byte record",
    "durable_commits_per_s": "floor: os.write + os.fsync",
    "gets_per_s": "floor: os.pread of 100 bytes, random offset",
    "heap1_per_key": "floor: dict of 16-byte keys to ints",
}


@dataclass(frozen=True)
class Column:
    metric: str
    header: str
    higher_is_better: bool
    digits: int = 0


def _number(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _ratio(value: float | None, other: float | None) -> str:
    if value is None or not other:
        return "-"
    return f"{value / other:.2f}x"


def table(medians: Medians, rows: list[str], columns: list[Column]) -> str:
    """A markdown table: each column's value, then its ratio to ours and to the floor."""
    floor = medians.get(FLOOR, {})
    ours = medians.get(OURS, {})
    headers = ["store"]
    for column in columns:
        better = "higher" if column.higher_is_better else "lower"
        headers += [f"{column.header} ({better} is better)", "÷ assemblage_kv"]
        if column.metric in floor:
            headers.append("÷ floor")
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    floor_rows = [FLOOR] if any(column.metric in floor for column in columns) else []
    for row in floor_rows + rows:
        values = medians.get(row, {})
        if row == FLOOR:
            label = " / ".join(
                FLOOR_LABELS.get(c.metric, "floor") for c in columns if c.metric in floor
            )
        else:
            label = f"**{row}**" if row == OURS else row
        cells = [label]
        for column in columns:
            value = values.get(column.metric)
            cells += [_number(value, column.digits), _ratio(value, ours.get(column.metric))]
            if column.metric in floor:
                cells.append(_ratio(value, floor[column.metric]))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def per_key(medians: Medians, config: Config) -> Medians:
    """Add the memory metrics per key (the stores hold config.n keys)."""
    out: Medians = {}
    for row, metrics in medians.items():
        out[row] = dict(metrics)
        for name in ("heap1", "heap5", "rss1", "rss5"):
            if f"{name}_bytes" in metrics:
                out[row][f"{name}_per_key"] = metrics[f"{name}_bytes"] / config.n
        if "disk_bytes" in metrics:
            out[row]["disk_per_payload"] = metrics["disk_bytes"] / config.payload
    return out


def _groups(config: Config) -> list[tuple[str, str, list[Column]]]:
    n = f"{config.n:,}"
    return [
        (
            "Bulk load",
            f"{n} puts of {config.value_size}-byte values, {config.batch:,} puts "
            "per commit, puts/s.",
            [Column("bulk_puts_per_s", "puts/s", True)],
        ),
        (
            "Durable 1-put commits",
            f"{config.commits:,} commits of one put each, commits/s "
            "(see the guarantees below: not every store syncs).",
            [
                Column("durable_commits_per_s", "commits/s", True),
                Column("durable_mean_ms", "ms/commit", False, 2),
            ],
        ),
        (
            "Warm random gets",
            f"{n} gets in random order after one warming pass, gets/s. "
            "assemblage_kv and lmdb: one read-only transaction per 1,000 gets; sqlite3: one "
            "BEGIN ... COMMIT per 1,000 gets; the others: plain lookups.",
            [Column("gets_per_s", "gets/s", True)],
        ),
        (
            "Reopen + 1 get",
            f"open a closed store of {n} keys in a fresh process and get one "
            f"key, ms; 1 version and {config.versions} versions per key (peers overwrite).",
            [
                Column("reopen1_ms", "1 version, ms", False, 1),
                Column("reopen5_ms", f"{config.versions} versions, ms", False, 1),
            ],
        ),
        (
            "Index memory after reopen",
            "bytes per key after opening and one get: the Python "
            "heap measured with tracemalloc (blind to C allocations: sqlite's and lmdb's "
            "memory is in their RSS column), and the RSS growth of the process (from "
            "/proc/self/statm, in a separate process without tracemalloc; includes touched "
            "mmap pages and the allocator's unreturned arenas).",
            [
                Column("heap1_per_key", "tracemalloc B/key, 1 version", False),
                Column("heap5_per_key", f"tracemalloc B/key, {config.versions} versions", False),
                Column("rss1_per_key", "RSS B/key, 1 version", False),
                Column("rss5_per_key", f"RSS B/key, {config.versions} versions", False),
            ],
        ),
        (
            "Disk size",
            f"all files of the closed store, 1 version per key; payload = {n} x "
            f"(16 + {config.value_size}) = {config.payload:,} bytes.",
            [
                Column("disk_bytes", "bytes", False),
                Column("disk_per_payload", "÷ payload", False, 3),
            ],
        ),
        (
            "Merge / compaction",
            f"compacting the store of {config.versions} versions per "
            "key, ms (what each store's compaction does is listed below).",
            [Column("merge_ms", "ms", False, 1)],
        ),
    ]


def guarantees(stores: list[str], syncs: dict[str, float] | None, counted: str) -> str:
    """What each store's commit promises, and the sync calls counted per commit."""
    lines = [
        f"| store | sync calls per 1-put commit ({counted}) | what a commit guarantees "
        "| compaction |",
        "|---|---|---|---|",
    ]
    for store in stores:
        count = "-" if syncs is None or store not in syncs else f"{syncs[store]:.2f}"
        lines.append(f"| {store} | {count} | {GUARANTEES[store]} | {ADAPTERS[store].compaction} |")
    return "\n".join(lines)


def ours_only(medians: Medians, extras: dict[str, Any], config: Config) -> str:
    """The workloads only assemblage_kv has, as one table of absolute numbers."""
    ours = medians.get(OURS, {})

    def value(metric: str, digits: int = 0) -> str:
        return _number(ours.get(metric), digits)

    log = ours.get("merging_log_bytes")
    rows = [
        (f"versions() of a key with {config.history} versions", value("versions_per_s"), "calls/s"),
        ("get_version() of those versions, in turn", value("get_version_per_s"), "calls/s"),
        (
            "gets in one snapshot while another thread commits",
            value("snapshot_reads_per_s"),
            "reads/s",
        ),
        (
            "... the other thread's durable 1-put commits meanwhile",
            value("snapshot_commits_per_s"),
            "commits/s",
        ),
        (
            f"merge of {config.n:,} keys x {config.versions} versions "
            f"({'-' if log is None else f'{log / 1e6:.1f}'} MB log) beside a reader and a "
            "committer",
            value("merging_merge_ms", 1),
            "ms",
        ),
    ]
    for kind in ("read", "commit"):
        rows.append(
            (
                f"... worst {kind} latency during the merge (max / p99; "
                f"{value(f'merging_{kind}_count')} {kind}s overlapped it), and the max "
                "as long again without a merge",
                f"{value(f'merging_{kind}_max_ms', 1)} / {value(f'merging_{kind}_p99_ms', 1)}"
                f"; {value(f'merging_{kind}_quiet_max_ms', 1)}",
                "ms",
            )
        )
    crash = extras.get("crash")
    if crash:
        rows.append(
            (
                f"main job: crash campaign, {crash['seconds']:g} s, seed 1, this tree",
                f"{crash['current']:,.0f}",
                "crash states/s",
            )
        )
        rows.append(
            (
                f"... baseline {crash['baseline']}",
                f"{crash['baseline_rate']:,.0f}",
                f"crash states/s (this tree: {crash['ratio']:.2f}x)",
            )
        )
    elif "crash_error" in extras:
        rows.append(("main job: crash campaign", "-", f"failed: {extras['crash_error']}"))
    million = extras.get("million")
    if million:
        rows.append(
            (
                f"reopen + 1 get of a {million['keys']:,}-key store (1 version, "
                f"{million['disk_bytes'] / 1e6:.0f} MB)",
                f"{million['reopen_ms']:,.0f}",
                "ms",
            )
        )
    lines = ["| workload | value | unit |", "|---|---|---|"]
    lines += [
        f"| {name} | {number} | {unit} |" for name, number, unit in rows if number.strip("-/ ")
    ]
    return "\n".join(lines)


def targets(verdicts: list[Verdict]) -> str:
    lines = ["| target | verdict | numbers (assemblage_kv / reference) |", "|---|---|---|"]
    lines += [f"| {v.target} | **{v.verdict}** | {v.numbers} |" for v in verdicts]
    return "\n".join(lines)


def markdown(
    medians: Medians,
    config: Config,
    stores: list[str],
    machine: dict[str, Any],
    extras: dict[str, Any],
    verdicts: list[Verdict],
    notes: list[str],
) -> str:
    """The whole report (of medians with their per-key metrics: see per_key)."""
    peers = [store for store in stores if store != OURS]
    rows = ([OURS] if OURS in stores else []) + peers
    out = [
        "# Benchmark: assemblage_kv beside embedded stores",
        "",
        f"{machine['date']}; {machine['platform']}; {machine['cpu']}, {machine['cores']} "
        f"cores; Python {machine['python']}. N = {config.n:,} random 16-byte keys, "
        f"{config.value_size}-byte values; medians of {config.repeat} repetitions, each "
        "measurement in a fresh process. Ratios: a row's value divided by assemblage_kv's "
        "(or the floor's) in the same column; read them with the column's direction.",
        "",
    ]
    out += [f"- {note}" for note in notes]
    for title, what, columns in _groups(config):
        if not any(c.metric in medians.get(row, {}) for row in rows for c in columns):
            continue
        out += ["", f"## {title}", "", what, "", table(medians, rows, columns)]
    out += [
        "",
        "## What a commit guarantees",
        "",
        guarantees(rows, extras.get("syncs"), extras["syncs_how"]),
    ]
    if OURS in stores:
        out += ["", "## Only assemblage_kv", "", ours_only(medians, extras, config)]
    out += ["", "## Targets", "", targets(verdicts), ""]
    return "\n".join(out)
