"""Does bf16 summarizing change the summaries? Dev ROUGE and speed of a trained model in fp32 and in bf16.

    python benchmarks/experiments/precision.py --model RUN_DIR [--data-dir DIR] [--limit N] [--out FILE]

Summarizes gigaword/dev.article.txt with the default decoding twice (`--precision fp32` and `--precision
bf16`), scores both against dev.title.txt as `summae evaluate` does, counts identical summaries and times
both at batch 64 and 256. Issue 4 allows reduced precision by default only if dev R-1 moves by <= 0.1.
Writes benchmarks/results/precision-<YYYYMMDD>-<hardware>.json.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/, for model_on_dev
import model_on_dev  # noqa: E402


def main(argv=None) -> int:
    import torch

    from summae.summarize import Summarizer

    args, docs, refs = model_on_dev.parse("precision", __doc__.split("\n")[0], argv)
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
        result[precision] = {**model_on_dev.rouge(out, refs), "sentences_per_s_by_batch": speed}
        print(precision, result[precision], file=sys.stderr, flush=True)
    same = sum(a == b for a, b in zip(summaries["fp32"], summaries["bf16"]))
    model_on_dev.write("precision", args, len(docs), {
        "fp32": result["fp32"], "bf16": result["bf16"],
        "rouge1_change": round(result["bf16"]["rouge1"] - result["fp32"]["rouge1"], 2),
        "identical_summaries": same, "torch": torch.__version__})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
