#!/usr/bin/env bash
# Mutation testing of impl/ against the oracle's tests (docs/mutation-testing.md).
#
#   mutation/run.sh                                  # every module of impl/
#   mutation/run.sh run 'assemblage_kv._index*'      # one module
#   mutation/run.sh results                          # survivors so far
#   mutation/run.sh show assemblage_kv._index.x_f__mutmut_3
#
# Arguments go to mutmut (default: run). Workers: MUTMUT_MAX_CHILDREN (default 2).
# State machine examples per mutant: ORACLE_EXAMPLES (default 30), not shrunk
# (ORACLE_NO_SHRINK=1).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
ws="$root/mutation/workspace"
mkdir -p "$ws"
# mutmut names mutants after file paths and strips only a leading "src.", so impl/ is
# seen as src/ here and the mutated copy imports as assemblage_kv.* (not impl.*).
ln -sfn ../../impl "$ws/src"
for item in tests fuzz pyproject.toml; do
    ln -sfn "../../$item" "$ws/$item"
done
cd "$ws"
export ORACLE_EXAMPLES="${ORACLE_EXAMPLES:-30}"
export ORACLE_NO_SHRINK="${ORACLE_NO_SHRINK:-1}"
if [ "$#" -eq 0 ]; then
    set -- run
fi
if [ "$1" = run ]; then
    set -- "$@" --max-children "${MUTMUT_MAX_CHILDREN:-2}"
fi
exec "$root/.venv/bin/mutmut" "$@"
