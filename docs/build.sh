#!/usr/bin/env bash
# Build the HTML documentation with every warning as an error, running the
# gallery examples. Output: docs/_build/html. Usage (from anywhere):
#
#   pip install ".[docs]"          # once
#   bash docs/build.sh             # full build (about 2 minutes on 2 cores)
#   SKMOE_DOCS_NO_GALLERY=1 bash docs/build.sh   # prose only, seconds
#
# Without network the links to numpy/scipy/scikit-learn/cupy docs (intersphinx)
# are skipped automatically; SKMOE_DOCS_OFFLINE=1 forces that.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ -z "${SKMOE_DOCS_OFFLINE:-}" ]]; then
    if python3 - <<'PY'
import sys, urllib.request
try:
    urllib.request.urlopen("https://numpy.org/doc/stable/objects.inv", timeout=5)
except Exception:
    sys.exit(1)
PY
    then
        export SKMOE_DOCS_OFFLINE=0
    else
        echo "docs/build.sh: no network, building without intersphinx links" >&2
        export SKMOE_DOCS_OFFLINE=1
    fi
fi

# The examples are small: threads only add overhead, and on a busy machine
# OpenMP spinning (histogram gradient boosting) can cost tens of seconds.
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
export MPLBACKEND=Agg
export PYTHONWARNINGS="${PYTHONWARNINGS:-}"

rm -rf docs/_build/html docs/auto_examples docs/generated docs/gen_modules
start=$(date +%s)
python3 -m sphinx -W --keep-going -b html docs docs/_build/html "$@"
echo "docs/build.sh: built in $(( $(date +%s) - start )) s; open docs/_build/html/index.html" >&2
