"""The store and the spec, driven side by side by Hypothesis state machines.

The default run takes well under a minute. ORACLE_SCALE=N runs N times as many
examples, for a longer campaign (see README).
"""

from __future__ import annotations

import os

from hypothesis import settings

from assemblage_kv_oracle.machine import FileStoreMachine, StoreMachine

SCALE = int(os.environ.get("ORACLE_SCALE", "1"))

TestStoreAgainstSpec = StoreMachine.TestCase
TestStoreAgainstSpec.settings = settings(
    max_examples=300 * SCALE, stateful_step_count=50, deadline=None
)

TestFileStoreAgainstSpec = FileStoreMachine.TestCase
TestFileStoreAgainstSpec.settings = settings(
    max_examples=40 * SCALE, stateful_step_count=30, deadline=None
)
