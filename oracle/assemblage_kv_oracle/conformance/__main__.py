"""`python -m assemblage_kv_oracle.conformance`: see command.py."""

import os
import sys

from assemblage_kv_oracle.conformance.command import main

if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:  # stdout closed early (`| head`): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
    except KeyboardInterrupt:
        print("python -m assemblage_kv_oracle.conformance: interrupted", file=sys.stderr)
        sys.exit(130)
