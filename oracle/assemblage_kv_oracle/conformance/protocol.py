"""The protocol's wire: one JSON object per line each way, one answer per request.

A request is a trace step (docs/traces.md) without its expected fields, or one of the
session requests `hello`, `open`, `log` and `end`. An answer is `{"result": ...}`,
`{"error": "<error class>"}` for an error of the store's hierarchy, or `{"failed":
"<why>"}` when the port could not make the call at all (a bug of the port's own).
"""

from __future__ import annotations

import collections
import json
import queue
import shlex
import subprocess
import threading
from typing import IO, Any, Protocol

PROTOCOL = "assemblage-kv-conformance/1"
TIMEOUT = 30.0
"""Seconds a port may take to answer one request before it is declared hung."""


class PortError(Exception):
    """The port cannot be talked to: it did not start, died, hung, or answered with
    something that is not an answer. Not a difference of meaning: the run stops."""


Answer = tuple[str | None, Any]
"""(error class or None, result): an answer in the form a trace states it."""


class Channel(Protocol):
    """What the runner needs of a port: its name, and answers to requests."""

    name: str

    def ask(self, request: dict[str, Any]) -> Answer:
        """The answer to one request."""
        ...

    def request(self, request: dict[str, Any]) -> Any:
        """The result of a session request; PortError if it is not a result."""
        ...


def _lines(stream: IO[bytes], into: queue.Queue[bytes | None]) -> None:
    for line in stream:
        into.put(line)
    into.put(None)


class Port:
    """A port running as a child process, asked one request at a time."""

    def __init__(self, command: str | list[str], *, timeout: float = TIMEOUT) -> None:
        self.argv = shlex.split(command) if isinstance(command, str) else list(command)
        if not self.argv:
            raise PortError("the port's command line is empty")
        self.timeout = timeout
        try:
            self.process = subprocess.Popen(
                self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
            )
        except OSError as error:
            raise PortError(f"cannot start the port {shlex.join(self.argv)}: {error}") from error
        assert self.process.stdout and self.process.stderr
        self.answers: queue.Queue[bytes | None] = queue.Queue()
        self.stderr: collections.deque[bytes] = collections.deque(maxlen=20)
        threading.Thread(target=_lines, args=(self.process.stdout, self.answers),
                         daemon=True).start()  # fmt: skip
        self.stderr_reader = threading.Thread(
            target=self.stderr.extend, args=(self.process.stderr,), daemon=True
        )
        self.stderr_reader.start()
        hello = self.request({"op": "hello"})
        if not isinstance(hello, dict) or hello.get("protocol") != PROTOCOL:
            self.close()
            raise PortError(f"the port does not speak {PROTOCOL}: it said hello with {hello!r}")
        self.name = str(hello.get("port", self.argv[0]))

    def ask(self, request: dict[str, Any]) -> Answer:
        """Send one request, wait for its answer."""
        assert self.process.stdin
        try:
            self.process.stdin.write(json.dumps(request).encode() + b"\n")
            self.process.stdin.flush()
        except OSError as error:
            raise self._gone(f"stopped reading requests ({error})") from error
        try:
            line = self.answers.get(timeout=self.timeout)
        except queue.Empty:
            self.process.kill()  # hung: closing its stdin would not end it
            raise self._gone(f"gave no answer to {request['op']!r} in {self.timeout:g} s") from None
        if line is None:
            raise self._gone(f"ended without answering {request['op']!r}")
        try:
            answer = json.loads(line)
        except ValueError:
            raise self._gone(f"answered {request['op']!r} with a line that is not JSON: "
                             f"{line[:200]!r}") from None  # fmt: skip
        if isinstance(answer, dict) and len(answer) == 1:
            if "result" in answer:
                return None, answer["result"]
            if isinstance(answer.get("error"), str):
                return answer["error"], None
            if "failed" in answer:
                return f"(port failed: {answer['failed']})", None
        raise self._gone(f"answered {request['op']!r} with {answer!r}, which is not an answer")

    def request(self, request: dict[str, Any]) -> Any:
        """A session request, which must succeed: its result."""
        error, result = self.ask(request)
        if error is not None:
            raise self._gone(f"refused {request['op']!r}: {error}")
        return result

    def _gone(self, what: str) -> PortError:
        self.close()
        self.stderr_reader.join(timeout=1)
        said = b"".join(self.stderr).decode(errors="replace").strip().splitlines()[-3:]
        return PortError(
            f"the port {shlex.join(self.argv)} {what}"
            + (f"; its stderr ends with: {' | '.join(said)}" if said else "")
        )

    def close(self) -> None:
        """Close its stdin (its signal to exit) and wait for it; kill it if it hangs."""
        if self.process.poll() is None:
            try:
                assert self.process.stdin
                self.process.stdin.close()
                self.process.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> Port:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
