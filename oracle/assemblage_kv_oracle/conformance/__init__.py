"""The conformance kit (docs/port-authors.md): drive a port of the store, in any
language, through a JSON-lines protocol on its stdin and stdout, with the trace corpus
and with random programs of the oracle's strategies, compare every answer with the
spec, and write a failure, shrunk, as a trace.

`protocol` talks to the child process, `session` runs one trace on it, `shrink` makes
a failing program small, `explore` searches for one, `port` is this project's store
as a port, and `python -m assemblage_kv_oracle.conformance` is the command.
"""
