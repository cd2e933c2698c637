"""Real processes, really killed (issue 4, item 4).

A writer process (`kill_writer.py`) commits a seeded sequence of transactions to a store
on disk, and acknowledges each commit on stdout once `commit()` has returned. The test
SIGKILLs it at a seeded random moment: after a random number of acknowledgements plus a
random delay, or a random delay after it started (so also while it imports, opens and
recovers the store). Then it opens the store and checks that its state is the state
after some prefix of the writer's commits: every acknowledged one, and at most the one
under way. It commits once itself (a recovered store must accept commits; the next
round checks that this commit is there) and starts the next round on the same file, so
later rounds also recover from earlier kills.

KILL_ROUNDS sets the number of rounds (default 20); KILL_SEED the seed.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

import assemblage_kv as kv

from kill_writer import plan, states

pytestmark = pytest.mark.needs_subprocess

WRITER = Path(__file__).with_name("kill_writer.py")
ROUNDS = int(os.environ.get("KILL_ROUNDS", "20"))
SEED = int(os.environ.get("KILL_SEED", "1"))
COMMITS = 500
"""More steps than a writer gets through before it is killed."""


def kill_writer(path: Path, seed: int, rng: random.Random) -> int:
    """Run the writer and SIGKILL it at a random moment; how many commits it acknowledged."""
    writer = subprocess.Popen(
        [sys.executable, str(WRITER), str(path), str(seed), str(COMMITS)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        bufsize=0,  # no buffer in this process: communicate() must see every line not read
    )
    lines: list[bytes] = []
    try:
        assert writer.stdout is not None
        if rng.random() < 0.25:
            time.sleep(rng.uniform(0.0, 0.4))
        else:
            for _ in range(rng.randint(1, 25)):
                lines.append(writer.stdout.readline())
                if not lines[-1]:
                    break
            time.sleep(rng.uniform(0.0, 0.01))
        writer.send_signal(signal.SIGKILL)
        rest, errors = writer.communicate()
    finally:
        writer.kill()
        writer.wait()
    assert writer.returncode == -signal.SIGKILL, f"the writer stopped by itself: {errors!r}"
    # Only a whole line is an acknowledgement: the kill may cut the last one short.
    lines += rest.splitlines(keepends=True)
    assert all(line == b"ack\n" for line in lines[:-1])
    return sum(line == b"ack\n" for line in lines)


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="no SIGKILL on this platform")
def test_a_killed_writer_keeps_every_acknowledged_commit(tmp_path: Path) -> None:
    path = tmp_path / "store.aeon"
    rng = random.Random(SEED)
    base: dict[str, Any] = {}
    for round_ in range(ROUNDS):
        seed = rng.randrange(2**32)
        acked = kill_writer(path, seed, rng)
        expected = states(base, plan(seed, COMMITS))
        with kv.open(path) as store:
            tx = store.current()
            state = {key: tx.get(0, key) for key in tx.keys(0)}
            prefixes = [n for n in (acked, acked + 1) if expected[n : n + 1] == [state]]
            assert prefixes, (
                f"round {round_} (seed {seed}): {acked} commits acknowledged, but the state "
                f"(seq {state.get('seq')}) is not the state after them or after one more"
            )
            with store.current() as tx:
                tx.insert(0, "recovered", round_)
        base = {**state, "recovered": round_}
