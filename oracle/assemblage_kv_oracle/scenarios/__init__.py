"""Hand-written trace programs: each rule of docs/semantics.md, one short story each.

Random programs find the unexpected; these make sure every rule a port must get right
is in the corpus by name, with a description saying which rule. The answers still come
from the spec: `scenario_traces` records each program on the model.
"""

from __future__ import annotations

from assemblage_kv_oracle.scenarios import history, lifecycle, snapshots
from assemblage_kv_oracle.scenarios.opening import open_scenarios
from assemblage_kv_oracle.scenarios.steps import SCENARIOS, Scenario
from assemblage_kv_oracle.trace_format import Trace
from assemblage_kv_oracle.traces import record

REGISTERED = (snapshots, lifecycle, history)
"""The modules whose scenarios register themselves, in corpus order."""


def scenarios() -> list[Scenario]:
    return [build() for build in SCENARIOS] + open_scenarios()


def scenario_traces() -> list[Trace]:
    """Every scenario, recorded on the model."""
    return [
        record(s.ops, name=s.name, description=s.description, log=s.log, clock=s.clock)
        for s in scenarios()
    ]
