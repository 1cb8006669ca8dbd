#!/usr/bin/env bash
# Prepare what a GPU run carries (the GPU machine has no ../shared and no package registry):
#   .devdata/gigaword/{train.article,train.headline,dev.article,dev.title}.txt, labeled.jsonl (only for
#   --labeled-pairs runs) and .devdata/duc2003/* (copies of ../shared/data, ~29 MB, git-ignored: never commit news data), and
#   .whl/ (datasets, rouge-score and friends, built by ../shared/devicekit/make_wheels.sh).
# Then: run(carry=[".devdata", ".whl"], command="SUMMAE_COMMIT=<sha> bash scripts/gpu_job.sh 3").
# Usage (from anywhere): bash scripts/make_gigaword_devdata.sh [SHARED_DIR]  (default and relative paths: from the repo root)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
shared=${1:-../shared}
src=$shared/data
for f in gigaword/train.article.txt gigaword/train.headline.txt gigaword/dev.article.txt gigaword/dev.title.txt \
         gigaword/labeled.jsonl; do
  if [ ! -f "$src/$f" ]; then
    echo "error: $src/$f not found (pass the shared folder as the first argument)" >&2
    exit 2
  fi
done
[ -d "$src/duc2003" ] || { echo "error: $src/duc2003 not found" >&2; exit 2; }

mkdir -p .devdata/gigaword .devdata/duc2003
cp "$src"/gigaword/{train.article.txt,train.headline.txt,dev.article.txt,dev.title.txt,labeled.jsonl} .devdata/gigaword/
cp "$src"/duc2003/* .devdata/duc2003/
bash "$shared/devicekit/make_wheels.sh" .whl
du -sh .devdata .whl
