"""`python -m assemblage_kv_oracle.conformance`: see command.py."""

import sys

from assemblage_kv_oracle.conformance.command import main

if __name__ == "__main__":
    sys.exit(main())
