"""The store and the spec, driven side by side by Hypothesis state machines.

The default run takes well under a minute. ORACLE_SCALE=N runs N times as many
examples, for a longer campaign (see README). ORACLE_EXAMPLES=N instead sets the
memory machine's example count outright (the file machine runs proportionally
fewer, at least one), and ORACLE_NO_SHRINK=1 reports a failure without shrinking it:
mutation testing uses both to run a cheaper oracle per mutant, where a failure only
needs detecting (see docs/mutation-testing.md).
"""

from __future__ import annotations

import os

from hypothesis import Phase, settings

from assemblage_kv_oracle.machine import FileStoreMachine, StoreMachine

SCALE = int(os.environ.get("ORACLE_SCALE", "1"))
MEMORY_EXAMPLES = int(os.environ.get("ORACLE_EXAMPLES", str(300 * SCALE)))
FILE_EXAMPLES = max(1, MEMORY_EXAMPLES * 40 // 300)
PHASES = (
    [phase for phase in Phase if phase is not Phase.shrink]
    if os.environ.get("ORACLE_NO_SHRINK") == "1"
    else list(Phase)
)

TestStoreAgainstSpec = StoreMachine.TestCase
TestStoreAgainstSpec.settings = settings(
    max_examples=MEMORY_EXAMPLES, stateful_step_count=50, deadline=None, phases=PHASES
)

TestFileStoreAgainstSpec = FileStoreMachine.TestCase
TestFileStoreAgainstSpec.settings = settings(
    max_examples=FILE_EXAMPLES, stateful_step_count=30, deadline=None, phases=PHASES
)
