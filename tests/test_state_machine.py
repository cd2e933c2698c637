"""The store and the spec, driven side by side by Hypothesis state machines.

The default run is derandomized (the same examples every run, no example database), so
that what it reaches is the same every run: each test prints how often each rule ran
and each situation of `assemblage_kv_oracle.reach` occurred (a section of pytest's
terminal summary), and fails if a situation it requires was never reached, since a bug
that needs it would pass unseen. ORACLE_SCALE=N runs N times as many examples, for a
longer campaign (see README), from a random seed. ORACLE_EXAMPLES=N instead sets the
memory machine's example count outright (the file machine runs proportionally fewer,
at least one), and ORACLE_NO_SHRINK=1 reports a failure without shrinking it: mutation
testing uses both to run a cheaper oracle per mutant, where a failure only needs
detecting (see docs/mutation-testing.md). Under either, nothing is required to be reached.
"""

from __future__ import annotations

import os
from collections import Counter

import pytest
from hypothesis import Phase, settings
from hypothesis.stateful import run_state_machine_as_test

from assemblage_kv_oracle import history_machine, reach
from assemblage_kv_oracle.machine import FileStoreMachine, StoreMachine

SCALE = int(os.environ.get("ORACLE_SCALE", "1"))
MEMORY_EXAMPLES = int(os.environ.get("ORACLE_EXAMPLES", str(300 * SCALE)))
FILE_EXAMPLES = MEMORY_EXAMPLES
DEFAULT_RUN = SCALE == 1 and "ORACLE_EXAMPLES" not in os.environ
PHASES = (
    [phase for phase in Phase if phase is not Phase.shrink]
    if os.environ.get("ORACLE_NO_SHRINK") == "1"
    else list(Phase)
)

BOTH_MACHINES = [
    reach.OLD_READ,
    reach.UNREMOVED_OF_REMOVED,
    reach.UNREMOVED_AFTER_TWO,
    reach.COMMIT_CLOCK_STILL,
    reach.COMMIT_CLOCK_BELOW,
    reach.COMMIT_OLD_CLOCK_BELOW,
    reach.SECOND_REMOVAL,
    reach.REINSERT,
    reach.CONFLICT,
    reach.COMMIT_EXPIRED,
    reach.READ_EXPIRED,
    reach.WRITE_EXPIRED,
    reach.READ_CLOSED,
    reach.CLOCK_BACK_OPEN,
    reach.CLOCK_AHEAD_OPEN,
    reach.CLOCK_STILL_OPEN,
    reach.CLOCK_BELOW_LATEST,
    reach.MERGE_OPEN,
    reach.REOPEN_OPEN,
    reach.STATE_OLD_REMOVED,
    reach.STATE_TWO_REMOVALS,
]
"""Situations each machine's default run must reach: each is what some bug needs.

`keys` listed by a rule on a snapshot older than a removal (`reach.KEYS_BEFORE_REMOVAL`)
is reported, not required: it is rare (a rule must list that slot of that transaction
at that step), and what a wrong `keys` of such a snapshot needs is the state
(`reach.STATE_OLD_REMOVED`), since every open transaction lists every slot after every
step."""

MEMORY_RULES = [
    "begin", "write", "read", "read_a_recent_key", "finish", "write_and_commit",
    "another_client_commits",
    "another_client_writes_a_recent_key", "use_an_ended_transaction", "misuse", "merge",
    "reopen", "move_clock", "clock_back_below_latest_commit",
]  # fmt: skip
FILE_RULES = [
    *MEMORY_RULES, "open_reader", "refresh_reader", "reader_begins", "reader_reads",
    "reader_finishes", "use_an_ended_reader_transaction", "reader_refuses_writes",
    "close_reader",
]  # fmt: skip


def run(
    request: pytest.FixtureRequest,
    machine: type[StoreMachine],
    chosen: settings,
    required: list[str],
) -> None:
    """Run `machine`, report what it reached, and fail on a required situation never met."""
    reach.reset()
    run_state_machine_as_test(machine, settings=chosen)  # no local constants: conftest.py
    counts = Counter(reach.REACHED)
    lines = reach.table(counts, required if DEFAULT_RUN else [])
    title = f"{machine.__name__}: what the default run reached (times)"
    request.config.pluginmanager.register(_Section(title, lines))
    missing = [name for name in required if counts[name] == 0]
    assert not (DEFAULT_RUN and missing), f"never reached: {missing}"


class _Section:
    """A plugin that adds one section to pytest's terminal summary."""

    def __init__(self, title: str, lines: list[str]) -> None:
        self.title, self.lines = title, lines

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        terminalreporter.write_sep("-", self.title)
        for line in self.lines:
            terminalreporter.write_line(line)


def _settings(examples: int, steps: int) -> settings:
    return settings(
        max_examples=examples,
        stateful_step_count=steps,
        deadline=None,
        phases=PHASES,
        derandomize=DEFAULT_RUN,
        database=None,
    )


def test_store_against_spec(request: pytest.FixtureRequest) -> None:
    required = BOTH_MACHINES + [f"rule {name}" for name in MEMORY_RULES]
    run(request, StoreMachine, _settings(MEMORY_EXAMPLES, 50), required)


def test_file_store_against_spec(request: pytest.FixtureRequest) -> None:
    required = [
        reach.READER_BEHIND,
        reach.READER_EXPIRED,
        *reach.HINTS.values(),  # every way a reopen finds the startup index file
        *[f"rule {name}" for name in FILE_RULES],
    ]
    run(request, FileStoreMachine, _settings(FILE_EXAMPLES, 30), required)


def test_store_with_history_against_spec(request: pytest.FixtureRequest) -> None:
    """Snapshots as of past moments, the change feed and keeping merges (docs/history.md)."""
    required = [
        history_machine.AT_MARK,
        history_machine.AT_PAST,
        history_machine.KEPT_HISTORY,
        history_machine.RESUMED,
        *[f"rule {name}" for name in ("read_at", "merge_keeping", "follow_changes")],
    ]
    examples = max(1, MEMORY_EXAMPLES // 2)
    run(request, history_machine.HistoryMachine, _settings(examples, 40), required)
