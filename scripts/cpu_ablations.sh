#!/usr/bin/env bash
# Issue 3's ablations at CPU size, for sessions without a GPU: the Gigaword recipe shrunk to 2 CPU cores
# (d_model 128, 2+2 layers, batch 64, a fixed step budget, fp32), run five ways with the same seed:
#   cpu-full     unsupervised, with the discriminator (the recipe: train.pseudo=extract)
#   cpu-distill  the same, meant for STEPS == PRETRAIN_STEPS: the pseudo-summaries alone, no adversarial phase
#   cpu-lead     the same with lead pseudo-summaries (train.pseudo=lead)
#   cpu-nod      unsupervised, without the discriminator (--no-discriminator)
#   cpu-semi1k   + 1,000 labeled pairs (semi-supervised: reported apart)
#   cpu-semi10k  + 10,000 labeled pairs
# Each writes benchmarks/results/gigaword-DATE-cpu2-RUN.json; scripts/quality_report.py tabulates them.
# Usage: bash scripts/cpu_ablations.sh [STEPS] [PRETRAIN_STEPS] [RUNS...]   (default 800 and 250, all runs)
# A run named RUN@TAG (cpu-distill@b32) is RUN, written as RUN-TAG beside the earlier result.
# EXTRA="--set k=v ..." passes more settings to every run (EXTRA="--set train.bucket_batches=0": plain batches).
# STEPS == PRETRAIN_STEPS compares the pseudo-summaries alone (distillation, no adversarial phase).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
steps=${1:-800}; shift || true
pretrain=${1:-250}; shift || true
runs=("$@"); [ ${#runs[@]} -gt 0 ] || runs=(cpu-full cpu-lead cpu-nod cpu-semi1k cpu-semi10k)
small=(--set model.d_model=128 --set model.encoder_layers=2 --set model.decoder_layers=2 --set model.ffn_dim=512
       --set train.batch_size=64 --set train.mixed_precision=no --set train.pretrain_steps=$pretrain
       --set train.warmup_steps=100 --set train.eval_every=200 --set train.log_every=50 --set train.sample_every=400
       --set data.dev_size=300 --set tokenizer.train_sentences=50000 --set train.pseudo=extract)
for run in "${runs[@]}"; do
  case ${run%%@*} in  # RUN@TAG: the same run, written under the name RUN-TAG (a re-run at a later commit)
    cpu-full|cpu-distill) extra=() ;;
    cpu-lead) extra=(--set train.pseudo=lead) ;;
    cpu-nod) extra=(--no-discriminator) ;;
    cpu-semi1k) extra=(--labeled-pairs 1000) ;;
    cpu-semi10k) extra=(--labeled-pairs 10000) ;;
    *) echo "error: unknown run $run (cpu-full, cpu-distill, cpu-lead, cpu-nod, cpu-semi1k, cpu-semi10k)" >&2; exit 2 ;;
  esac
  run=${run/@/-}
  mkdir -p benchmarks/results/logs
  python benchmarks/gigaword.py --device cpu --steps "$steps" --run "$run" --output-dir "runs/gigaword-$run-$steps" \
    "${small[@]}" "${extra[@]}" ${EXTRA:-} 2>&1 | tee "benchmarks/results/logs/gigaword-$run-$steps.log"
done
