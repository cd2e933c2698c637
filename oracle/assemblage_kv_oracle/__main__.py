"""`python -m assemblage_kv_oracle`, and the `assemblage-kv-crash-fuzz` console script.

The commands need Hypothesis, which only the `fuzz` (or `dev`) extra installs: without
it, they say so in one line instead of a traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

try:
    from assemblage_kv_oracle import commands
except ModuleNotFoundError as missing:
    if missing.name != "hypothesis":
        raise
    MISSING: str | None = (
        "error: this command needs Hypothesis, which the 'fuzz' extra installs: "
        "pip install 'assemblage-kv[fuzz]' (or -e '.[fuzz]' in a clone)"
    )
else:
    MISSING = None


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m assemblage_kv_oracle ...`."""
    if MISSING is not None:
        print(f"python -m assemblage_kv_oracle: {MISSING}", file=sys.stderr)
        return 2
    return commands.main(argv)


def crash_fuzz(argv: Sequence[str] | None = None) -> int:
    """`assemblage-kv-crash-fuzz ...`: the crash campaign (the README's main job)."""
    if MISSING is not None:
        print(f"assemblage-kv-crash-fuzz: {MISSING}", file=sys.stderr)
        return 2
    return commands.crash_fuzz(argv)


if __name__ == "__main__":
    sys.exit(main())
