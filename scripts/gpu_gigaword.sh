#!/usr/bin/env bash
# The whole GPU job in one command (for the lent GPU machine, which has no registry access):
# install the carried wheels (datasets, rouge-score: ../shared/devicekit/make_wheels.sh .whl), then run
# benchmarks/gigaword.py on the carried data (.devdata = copies of ../shared/data/{gigaword,duc2003}).
# Usage: bash scripts/gpu_gigaword.sh MINUTES RUN_NAME [extra benchmark args...]
set -uo pipefail
minutes=${1:-6}; run=${2:-gpu}; shift $(( $# < 2 ? $# : 2 ))
out=${OUT:-/tmp/summae-out}; mkdir -p "$out"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=$PWD:/tmp/site HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null
python3 benchmarks/gigaword.py --data-dir .devdata --minutes "$minutes" --run "$run" \
  --output-dir /tmp/run-"$run" --out "$out/gigaword-$run.json" "$@" 2>&1 | tee "$out/gigaword-$run.log"
exit "${PIPESTATUS[0]}"
