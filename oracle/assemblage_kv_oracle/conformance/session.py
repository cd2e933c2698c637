"""One trace run on a port: open its starting bytes, send each step, compare each
answer, each error and the log's bytes with what the trace (the spec) states."""

from __future__ import annotations

from typing import Any

from assemblage_kv_oracle.conformance.protocol import Channel, PortError
from assemblage_kv_oracle.trace_format import Trace, check
from assemblage_kv_oracle.traces import Mismatch, bytes_differ, describe, said

EXPECTED = ("result", "error", "log")
"""A step's fields that state what must happen: never sent to the port."""


def request_of(n: int, step: dict[str, Any]) -> dict[str, Any]:
    """The request for step n: the step without what it expects, and its number (which
    a later get_version's `from_step` names)."""
    return {"step": n, **{field: value for field, value in step.items() if field not in EXPECTED}}


def run_trace(port: Channel, trace: Trace) -> Mismatch | None:
    """The first difference between the port and the trace, or None. PortError if the
    port cannot be talked to; TraceError if the trace is not well-formed."""
    check(trace)
    error, opened = port.ask({"op": "open", "log": trace["log"], "clock": trace["clock"]})
    found = _compare(port, trace, error, opened)
    port.request({"op": "end"})  # not after a PortError: the port is gone
    return found


def _compare(port: Channel, trace: Trace, error: str | None, opened: Any) -> Mismatch | None:
    """After `open` answered (error, opened): the first difference, or None."""

    def mismatch(step: int | None, message: str) -> Mismatch:
        return Mismatch(trace["name"], port.name, step, message)

    want_error = trace["open"].get("error")
    if error != want_error:
        return mismatch(None, f"expected {said(want_error, None, 'open')}, "
                        f"got {said(error, None, 'open')}")  # fmt: skip
    differ = bytes_differ(trace["open"].get("log", trace["log"]), log_of(port))
    if differ:
        return mismatch(None, differ)
    if error is None:
        got_kept = opened.get("kept_aside") if isinstance(opened, dict) else opened
        if got_kept != trace["open"].get("kept_aside"):
            return mismatch(None, f"expected kept aside {trace['open'].get('kept_aside')}, "
                            f"got {got_kept}")  # fmt: skip
    for n, step in enumerate(trace["steps"]):
        error, answer = port.ask(request_of(n, dict(step)))
        want_error, want = step.get("error"), step.get("result")
        if step["op"] == "keys" and isinstance(want, list) and isinstance(answer, list):
            want, answer = sorted(want), sorted(map(str, answer))  # a set of keys
        if error != want_error or (error is None and answer != want):
            return mismatch(n, f"{describe(step)}: expected "
                            f"{said(want_error, want, step['op'])}, got "
                            f"{said(error, answer, step['op'])}")  # fmt: skip
        if "log" in step:
            differ = bytes_differ(step["log"], log_of(port))
            if differ:
                return mismatch(n, f"after {describe(step)}, {differ}")
    return None


def log_of(port: Channel) -> bytes:
    """The log's bytes as the port's file holds them now; PortError if not hex."""
    text = port.request({"op": "log"})
    try:
        return bytes.fromhex(text)
    except (TypeError, ValueError):
        raise PortError(f"the port answered 'log' with {text!r}, which is not hex") from None
