"""`assemblage-kv fuzz`: the oracle's crash campaign (docs/persistence.md).

The one place the implementation reaches the oracle, lazily and only for this command:
the oracle ships in the same wheel, but its campaign needs Hypothesis, which only the
`fuzz` extra installs. tests/test_static.py allows this module, and no other, to name it.
"""

from __future__ import annotations

from ._common import Output


def fuzz(arguments: list[str], out: Output) -> int:
    """Run the crash campaign with `arguments`; one line if it cannot be imported."""
    try:
        from assemblage_kv_oracle import commands
    except ModuleNotFoundError as missing:
        out.note(
            f"error: fuzz needs {missing.name}, which the 'fuzz' extra installs: "
            "pip install 'assemblage-kv[fuzz]'"
        )
        return 1
    return commands.crash_fuzz(arguments)
