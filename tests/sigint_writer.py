"""The process tests/test_interrupts.py sends SIGINTs to: commits in a loop, checks reads.

    python tests/sigint_writer.py PATH SEED

It opens the store at PATH, prints "ready", and until SIGUSR1 comes: commits a few
seeded writes to slot 0 (each commit also sets "seq" to its number, and mark `seq` in
slot MARKS), reads all of slot 0 back, and merges now and then. Like a REPL it catches
KeyboardInterrupt and goes on; after a StorageError (the store refuses work) it closes
the store and opens it again. It keeps the states slot 0 may be in (a commit that did
not return may or may not have happened) and checks every read against them. At the
end it prints a JSON report: the acknowledged commits, the wrong reads, and counts.

SIGINT raises KeyboardInterrupt only while the store is being used ("armed"): the
bookkeeping around the calls, and the loop catching the interrupt, run with SIGINT
ignored, so that the writer's own model never goes wrong. Opening is not armed either:
an interrupt just after open() returns would drop the new store, and only a finalizer
could give its lock back; the file-call and line sweeps of the test interrupt opens.
"""

from __future__ import annotations

import json
import random
import signal
import sys
from types import FrameType
from typing import Any

import assemblage_kv as kv

KEYS = ["k0", "k1", "k2", "k3", "seq"]
MARKS = 1
"""The slot of the marks, one per commit: seq -> seq."""
State = dict[str, Any]

armed = False
done = False
ignored = 0


def on_sigint(signum: int, frame: FrameType | None) -> None:
    global armed, ignored
    if not armed:
        ignored += 1
        return
    armed = False  # one interrupt at a time: the handler of this one runs disarmed
    raise KeyboardInterrupt


def on_usr1(signum: int, frame: FrameType | None) -> None:
    global done
    done = True


def arm() -> None:
    global armed
    armed = True


def disarm() -> None:
    global armed
    armed = False


class Writer:
    """The store, and what the writer knows about it."""

    def __init__(self, path: str, seed: int) -> None:
        self.path = path
        self.rng = random.Random(seed)
        self.store: kv.KvStore | None = kv.open(path)
        self.possible: list[State] = [{}]
        self.seq = 0
        self.acked: list[int] = []
        self.wrong: list[str] = []
        self.reads = 0
        self.interrupts = 0
        self.refusals = 0

    def step(self) -> None:
        """One commit, one read, sometimes a merge."""
        if self.store is None:
            self.store = kv.open(self.path)
        store = self.store
        try:
            self.commit(store)
            self.read(store)
            if self.rng.random() < 0.05:
                arm()
                store.merge()
                disarm()
        except (kv.StorageError, kv.StoreClosed, kv.CorruptStore) as error:
            disarm()
            if isinstance(error, kv.CorruptStore):  # the file is fine: a wrong answer
                self.wrong.append(f"after commit {self.seq}: {error}")
            self.refusals += 1
            arm()
            store.close()  # if interrupted, the next step closes again
            disarm()
            self.store = None

    def commit(self, store: kv.KvStore) -> None:
        self.seq += 1
        seq = self.seq
        writes: State = {"seq": seq}
        for key in self.rng.sample(KEYS[:-1], self.rng.randint(1, 3)):
            roll = self.rng.random()
            writes[key] = None if roll < 0.2 else self.rng.randbytes(self.rng.randint(0, 3000))
        after = [apply(state, writes) for state in self.possible]
        self.possible = unique(self.possible + after)  # from here on it may be committed
        arm()
        with store.current() as tx:
            for key, value in writes.items():
                if value is None:
                    tx.remove(0, key)
                else:
                    tx.insert(0, key, value)
            tx.insert(MARKS, seq, seq)
        disarm()
        self.possible = after
        self.acked.append(seq)

    def read(self, store: kv.KvStore) -> None:
        arm()
        tx = store.current()
        seen = {key: tx.get(0, key) for key in tx.keys(0)}
        absent = [key for key in KEYS if key not in seen and tx.get(0, key, tx) is not tx]
        disarm()
        self.reads += 1
        if seen not in self.possible or absent:
            self.wrong.append(f"after commit {self.seq}: read {describe(seen)}, {absent}")
        self.possible = [seen]


def apply(state: State, writes: State) -> State:
    new = dict(state)
    for key, value in writes.items():
        if value is None:
            new.pop(key, None)
        else:
            new[key] = value
    return new


def unique(states: list[State]) -> list[State]:
    found: list[State] = []
    for state in states:
        if state not in found:
            found.append(state)
    return found


def describe(state: State) -> str:
    return repr(
        {key: value if isinstance(value, int) else len(value) for key, value in state.items()}
    )


def main() -> None:
    signal.signal(signal.SIGINT, on_sigint)
    signal.signal(signal.SIGUSR1, on_usr1)
    writer = Writer(sys.argv[1], int(sys.argv[2]))
    print("ready", flush=True)
    while not done:
        try:
            writer.step()
        except KeyboardInterrupt:
            writer.interrupts += 1
    if writer.store is not None:
        writer.store.close()
    report = {
        "acked": writer.acked,
        "wrong": writer.wrong,
        "reads": writer.reads,
        "interrupts": writer.interrupts,
        "ignored": ignored,
        "refusals": writer.refusals,
        "commits": writer.seq,
    }
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
