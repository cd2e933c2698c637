"""The crash-recovery fuzz campaign (issue 4's main job), as a script in fuzz/.

Same as the `assemblage-kv-crash-fuzz` command: see
oracle/assemblage_kv_oracle/crashes/campaign.py and the README.

    python fuzz/crash_campaign.py --seconds 600 --seed 1
"""

import sys

from assemblage_kv_oracle.crashes.campaign import main

if __name__ == "__main__":
    sys.exit(main())
