"""The conformance kit (docs/port-authors.md): drive a port of the store, in any
language, through a JSON-lines protocol on its stdin and stdout, with the trace corpus,
with random programs of the oracle's strategies and with the oracle's state machine,
compare every answer with the spec, and write a failure, shrunk, as a trace.

`protocol` talks to the child process, `session` runs one trace on it, `shrink` makes
a failing program small, `explore` searches for one, `proxy` is a port behind the
store's API and `port_machine` the state machine on it, `port` is this project's store
as a port, and `python -m assemblage_kv_oracle.conformance` is the command.
"""
