"""Shared by benchmarks/experiments/precision.py and benchmarks/decoding.py: the command line, the Gigaword dev
set and the result file of a benchmark that re-decodes one trained model on dev."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

ROUGE_KEYS = ("rouge1", "rouge2", "rougeL", "words")


def parse(name: str, description: str, argv=None):
    """--model, --data-dir, --limit, --out; returns (args, dev documents, dev references)."""
    from summae.io import read_lines

    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--model", required=True, help="a trained run directory (best/ or last/ inside)")
    parser.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--limit", type=int, help="only the first N dev documents")
    parser.add_argument("--out", help=f"result JSON (default benchmarks/results/{name}-DATE-HARDWARE.json)")
    args = parser.parse_args(argv)
    gigaword = Path(args.data_dir) / "gigaword"
    docs = read_lines(str(gigaword / "dev.article.txt"))[: args.limit]
    refs = read_lines(str(gigaword / "dev.title.txt"))[: args.limit]
    return args, docs, refs


def rouge(summaries: list[str], refs: list[str]) -> dict:
    from summae.eval.rouge import rouge_scores

    scores = rouge_scores(summaries, [[r] for r in refs])
    return {k: round(scores[k], 2) for k in ROUGE_KEYS}


def write(name: str, args, n_docs: int, fields: dict) -> Path:
    """benchmarks/results/<name>-<date>-<hardware>.json (or --out) with commit, date and hardware first."""
    from throughput import write_result

    return write_result(name, {"model": str(args.model), "documents": n_docs, **fields}, out=args.out)
