"""The crash-recovery fuzz campaign (the README's main job), as a script in fuzz/.

Same as `assemblage-kv-crash-fuzz` and `python -m assemblage_kv_oracle crash campaign`
(oracle/assemblage_kv_oracle/commands.py).

    python fuzz/crash_campaign.py --seconds 600 --seed 1
"""

import sys

from assemblage_kv_oracle.__main__ import crash_fuzz

if __name__ == "__main__":
    sys.exit(crash_fuzz())
