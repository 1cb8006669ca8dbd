"""What the decoding rules add: dev ROUGE and readability of one trained model with summary.whole_words on and off.

    python benchmarks/decoding.py --model RUN_DIR [--data-dir DIR] [--limit N] [--out FILE]

Summarizes gigaword/dev.article.txt with the default decoding twice, once with `summary.whole_words` as the
model's config says (on since 2026-11-28) and once off, scores both as `summae evaluate` does, and writes
benchmarks/results/decoding-<YYYYMMDD>-<hardware>.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")


def main(argv=None) -> int:
    from summae.data import read_lines
    from summae.evaluation import rouge_scores
    from summae.readability import TrigramLM, readability
    from summae.summarize import Summarizer
    from throughput import commit, hardware

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True, help="a trained run directory (best/ or last/ inside)")
    parser.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--limit", type=int, help="only the first N dev documents")
    parser.add_argument("--out", help="result JSON (default benchmarks/results/decoding-DATE-HARDWARE.json)")
    args = parser.parse_args(argv)
    gigaword = Path(args.data_dir) / "gigaword"
    docs = read_lines(str(gigaword / "dev.article.txt"))[: args.limit]
    refs = read_lines(str(gigaword / "dev.title.txt"))[: args.limit]
    lm = TrigramLM(read_lines(str(gigaword / "train.headline.txt")))
    summarizer = Summarizer.from_pretrained(args.model, device="cpu")
    result = {}
    for whole in (True, False):
        summarizer.model.whole_words = whole
        out = summarizer(docs)
        scores = rouge_scores(out, [[r] for r in refs])
        result[f"whole_words_{'on' if whole else 'off'}"] = {
            **{k: round(scores[k], 2) for k in ("rouge1", "rouge2", "rougeL", "words")},
            "readability": readability(out, docs, lm), "first_summaries": out[:5]}
        print(whole, {k: round(scores[k], 2) for k in ("rouge1", "rouge2", "rougeL", "words")}, file=sys.stderr)
    short, detail = hardware("cpu")
    report = {"benchmark": "decoding", "commit": commit(), "date": dt.date.today().isoformat(), "hardware": short,
              "hardware_detail": detail, "model": str(args.model), "documents": len(docs),
              "precision": summarizer.precision, **result}
    out_path = Path(args.out or ROOT / "benchmarks" / "results" / f"decoding-{dt.date.today():%Y%m%d}-{short}.json")
    out_path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {out_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
