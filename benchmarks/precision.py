"""Does bf16 summarizing change the summaries? Dev ROUGE and speed of a trained model in fp32 and in bf16.

    python benchmarks/precision.py --model RUN_DIR [--data-dir DIR] [--limit N] [--out FILE]

Summarizes gigaword/dev.article.txt with the default decoding twice (`--precision fp32` and `--precision
bf16`), scores both against dev.title.txt as `summae evaluate` does, counts identical summaries and times
both at batch 64 and 256. Issue 4 allows reduced precision by default only if dev R-1 moves by <= 0.1.
Writes benchmarks/results/precision-<YYYYMMDD>-<hardware>.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")


def main(argv=None) -> int:
    import torch

    from summae.data import read_lines
    from summae.evaluation import rouge_scores
    from summae.summarize import Summarizer
    from throughput import commit, hardware

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True, help="a trained run directory (best/ or last/ inside)")
    parser.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--limit", type=int, help="only the first N dev documents")
    parser.add_argument("--out", help="result JSON (default benchmarks/results/precision-DATE-HARDWARE.json)")
    args = parser.parse_args(argv)
    gigaword = Path(args.data_dir) / "gigaword"
    docs, refs = read_lines(gigaword / "dev.article.txt"), read_lines(gigaword / "dev.title.txt")
    docs, refs = docs[: args.limit], refs[: args.limit]
    summaries, result = {}, {}
    for precision in ("fp32", "bf16"):
        summarizer = Summarizer.from_pretrained(args.model, device="cpu", precision=precision)
        speed = {}
        for batch in (64, 256):
            summarizer(docs[:batch], batch_size=batch)  # warm-up
            begin = time.perf_counter()
            out = summarizer(docs, batch_size=batch)
            speed[str(batch)] = round(len(docs) / (time.perf_counter() - begin), 1)
        summaries[precision] = out
        scores = rouge_scores(out, [[r] for r in refs])
        result[precision] = {**{k: round(v, 2) for k, v in scores.items() if k in ("rouge1", "rouge2", "rougeL", "words")},
                             "sentences_per_s_by_batch": speed}
        print(precision, result[precision], file=sys.stderr, flush=True)
    same = sum(a == b for a, b in zip(summaries["fp32"], summaries["bf16"]))
    short, detail = hardware("cpu")
    report = {"benchmark": "precision", "commit": commit(), "date": dt.date.today().isoformat(), "hardware": short,
              "hardware_detail": detail, "model": str(args.model), "documents": len(docs),
              "fp32": result["fp32"], "bf16": result["bf16"],
              "rouge1_change": round(result["bf16"]["rouge1"] - result["fp32"]["rouge1"], 2),
              "identical_summaries": same, "torch": torch.__version__}
    out = Path(args.out or ROOT / "benchmarks" / "results" / f"precision-{dt.date.today():%Y%m%d}-{short}.json")
    out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({k: report[k] for k in ("rouge1_change", "identical_summaries", "documents")}))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
