"""Crash consistency: a simulated disk, persistence models, and the crash checker.

    report = check(workload, WorstCase(), budget=Budget(64, 8), seed=1)

runs the workload on the real store over a `SimulatedFileSystem`, crashes it after
every call in every way the model allows (within the budget), recovers each disk with
the real store and judges it by the spec. docs/persistence.md states the models
(power losses, and media faults in synced data) and the layouts (`Seams.at`).
"""

from assemblage_kv_oracle.crashes.checker import check, reproduce
from assemblage_kv_oracle.crashes.findings import Budget, CrashDivergence, Progress, Report
from assemblage_kv_oracle.crashes.persistence import (
    CrashState,
    Ext4Like,
    MediaFaults,
    PersistenceModel,
    WorstCase,
    crash_states,
    model_named,
)
from assemblage_kv_oracle.crashes.planted import PLANTED, seams_named
from assemblage_kv_oracle.crashes.run import LAYOUTS, PATH, REAL, Layout, Run, Seams, run
from assemblage_kv_oracle.crashes.simulated_fs import Operation, Recording, SimulatedFileSystem
from assemblage_kv_oracle.crashes.workloads import example, sample_workloads, workloads

__all__ = [
    "LAYOUTS",
    "PATH",
    "PLANTED",
    "REAL",
    "Budget",
    "CrashDivergence",
    "CrashState",
    "Ext4Like",
    "Layout",
    "MediaFaults",
    "Operation",
    "PersistenceModel",
    "Progress",
    "Recording",
    "Report",
    "Run",
    "Seams",
    "SimulatedFileSystem",
    "WorstCase",
    "check",
    "crash_states",
    "example",
    "model_named",
    "reproduce",
    "run",
    "sample_workloads",
    "seams_named",
    "workloads",
]
