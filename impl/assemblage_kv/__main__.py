"""`python -m assemblage_kv`: the command line (`assemblage_kv.cli`)."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
