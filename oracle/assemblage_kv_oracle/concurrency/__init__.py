"""Concurrency explored on purpose: threads' transactions under seeded schedules, each
checked against a serial order the spec accepts (docs/concurrency.md)."""

from assemblage_kv_oracle.concurrency.explore import Finding, Schedule, explore, first_finding

__all__ = ["Finding", "Schedule", "explore", "first_finding"]
