"""This project's store as a port: `python -m assemblage_kv_oracle.conformance.port`.

It serves the protocol (docs/port-authors.md) on stdin and stdout with a store on a
file in a temporary folder per session, making each step's call through the same code
that replays traces on the implementation (trace_run.Run), and is what the runner is
proved on. It needs no Hypothesis.
"""

from __future__ import annotations

import json
import platform
import sys
import warnings
from importlib import metadata
from typing import IO, Any

import assemblage_kv as kv
from assemblage_kv_oracle.conformance.protocol import PROTOCOL
from assemblage_kv_oracle.trace_run import FileBackend, Run


def _name() -> str:
    try:
        version = metadata.version("assemblage-kv")
    except metadata.PackageNotFoundError:
        version = "(not installed)"
    return f"assemblage-kv {version} (Python {platform.python_version()})"


NAME = _name()


class Session:
    """One `open` ... `end`: a store on the starting bytes, its transactions, its clock."""

    def __init__(self, log: bytes, clock: int) -> None:
        self.backend = FileBackend(log)
        self.run = Run(self.backend, clock)

    def open(self) -> dict[str, Any]:
        error = self.run.open()
        if error is not None:
            return {"error": error}
        kept = self.backend.kept_aside(self.run.store)
        return {"result": {"kept_aside": None if kept is None else kept.hex()}}

    def step(self, request: dict[str, Any]) -> dict[str, Any]:
        error, answer = self.run.run(int(request.get("step", 0)), request)  # type: ignore[arg-type]
        return {"error": error} if error is not None else {"result": answer}

    def end(self) -> None:
        if self.run.store is not None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self.run.store.close()
        self.backend.release()


def answer(session: Session | None, request: dict[str, Any]) -> tuple[Session | None, Any]:
    """The answer to one request, and the session after it."""
    op = request.get("op")
    if op == "hello":
        return session, {"result": {"protocol": PROTOCOL, "port": NAME}}
    if op == "open":
        if session is not None:
            session.end()
        session = Session(bytes.fromhex(request["log"]), int(request["clock"]))
        return session, session.open()
    if session is None:
        return None, {"failed": f"{op!r} before 'open'"}
    if op == "log":
        return session, {"result": session.backend.log().hex()}
    if op == "end":
        session.end()
        return None, {"result": None}
    return session, session.step(request)


def serve(requests: IO[str], answers: IO[str]) -> None:
    """Answer each request line until the input ends. A call the port cannot make
    answers `failed`; the port itself never stops for a bad request."""
    session: Session | None = None
    for line in requests:
        try:
            request = json.loads(line)
            if not isinstance(request, dict):
                raise TypeError(f"a request is a JSON object, not {line.strip()!r}")
            session, reply = answer(session, request)
        except Exception as error:  # a crash of the store is a difference at its step
            reply = {"failed": f"{type(error).__name__}: {error}"}
        answers.write(json.dumps(reply) + "\n")
        answers.flush()
    if session is not None:
        session.end()


def main() -> int:
    warnings.simplefilter("ignore", kv.RecoveryWarning)  # kept_aside answers instead
    serve(sys.stdin, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
