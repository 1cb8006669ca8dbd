#!/usr/bin/env bash
# The whole GPU job for one lent machine, in one command (~8 minutes on an H200):
#   1. benchmarks/throughput.py --device cuda (issue 4: train step vs supervised step, summarizing, MFU), and
#      benchmarks/experiments/tokenizing.py (transformers' tokenizer calls vs the Rust tokenizer, on the
#      machine's cores);
#   2. benchmarks/gigaword.py: the summae/configs/gigaword.yaml recipe trained MINUTES minutes from scratch, then
#      dev (4,000 pairs) and DUC-2003 scored with ROUGE.
# Result JSONs and logs go to $OUT (they come back from the machine); weights stay there.
# Carry what scripts/make_gigaword_devdata.sh prepares: run(carry=[".devdata", ".whl"],
#   command="SUMMAE_COMMIT=<git rev-parse --short HEAD here> bash scripts/gpu_job.sh 3").
# `bash scripts/gpu_job.sh compile` instead runs only benchmarks/experiments/compile_step.py (torch.compile of
# the training step against eager, ~3 minutes): a second call, when the first left enough device time.
# DRY=1 bash scripts/gpu_job.sh [compile]: the same steps at toy size on the CPU (about a minute), to catch typos
# before the GPU time is spent; it uses the packages already installed here instead of .whl/.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
minutes=${1:-3}
only_compile=0
if [ "$minutes" = compile ]; then only_compile=1; minutes=3; fi
out=${OUT:-/tmp/summae-out}
mkdir -p "$out"
if [ "${DRY:-0}" = 1 ]; then
  export PYTHONPATH=$PWD
  throughput=(--device cpu --iters 1 --warmup 1 --breakdown-steps 1 --sentences 64)
  compile=(--device cpu --iters 1 --warmup 1 --batch-size 16)
  tokenizing=(--sentences 2000 --rounds 1)
  gigaword=(--device cpu --steps 4 --limit-eval 40 --set model.d_model=64 --set model.ffn_dim=128
            --set model.encoder_layers=1 --set model.decoder_layers=1 --set train.batch_size=16
            --set train.pretrain_steps=2 --set train.eval_every=2 --set data.dev_size=40
            --set tokenizer.train_sentences=4000 --set tokenizer.vocab_size=1000 --set train.mixed_precision=no)
else
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \
    .whl/*.whl || { echo "error: could not install the carried wheels (.whl/)" >&2; exit 1; }
  export PYTHONPATH=$PWD:/tmp/site
  throughput=(--device cuda)
  compile=(--device cuda)
  tokenizing=()
  gigaword=(--minutes "$minutes")
fi
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,clocks.max.sm --format=csv,noheader 2>/dev/null
status=0
if [ "$only_compile" = 1 ]; then
  echo "== compile $(date +%T)"
  timeout 420 python3 benchmarks/experiments/compile_step.py --data-dir .devdata "${compile[@]}" \
    --out "$out/compile.json" \
    2>&1 | tee "$out/compile.log" || status=1
  echo "== done $(date +%T), status $status"
  exit $status
fi
echo "== throughput $(date +%T)"
timeout 200 python3 benchmarks/throughput.py --data-dir .devdata "${throughput[@]}" --out "$out/throughput.json" \
  2>&1 | tee "$out/throughput.log" || status=1
echo "== tokenizing $(date +%T)"
timeout 60 python3 benchmarks/experiments/tokenizing.py --data-dir .devdata "${tokenizing[@]}" \
  --out "$out/tokenizing.json" \
  2>&1 | tee "$out/tokenizing.log" || status=1
echo "== gigaword $(date +%T)"
run_dir=$(mktemp -d /tmp/summae-run-gpu.XXXXXX)  # a fresh run directory each time (a DRY run leaves its own behind)
timeout 340 python3 benchmarks/gigaword.py --data-dir .devdata "${gigaword[@]}" --run gpu \
  --output-dir "$run_dir/run" --out "$out/gigaword.json" 2>&1 | tee "$out/gigaword.log" || status=1
echo "== done $(date +%T), status $status"
exit $status
