"""The spec's recovery and encoding, remembered: the oracle asks them the same questions
again and again (the crash checker recovers each crashed log several times, every model
step encodes its log), and each answer costs a read of the whole log.

Sound because both are pure functions of a value (bytes, or a tuple of frozen records)
that returns a frozen value: a remembered answer is the answer. A question that raises
is not remembered, so it raises again. The memory is bounded (least recently used).
"""

from __future__ import annotations

import functools

import assemblage_kv_spec as spec

SIZE = 1 << 14
"""Answers kept of each: enough for every log a crash check of one workload meets."""


@functools.lru_cache(maxsize=SIZE)
def recover(data: bytes) -> spec.Recovery:
    """`spec.recover(data)`."""
    return spec.recover(data)


@functools.lru_cache(maxsize=SIZE)
def encode_log(log: spec.Log) -> bytes:
    """`spec.encode_log(log)`; ValueError (each time) if the log is not well-formed."""
    return spec.encode_log(log)
