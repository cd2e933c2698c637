"""`python -m bench`: see docs/performance.md."""

import sys

from bench.cli import main

sys.exit(main())
