"""What the decoding rules add: dev ROUGE and readability of one trained model with summary.whole_words on and off.

    python benchmarks/decoding.py --model RUN_DIR [--data-dir DIR] [--limit N] [--out FILE]

Summarizes gigaword/dev.article.txt with the default decoding twice, once with `summary.whole_words` on
(the default since 2026-11-28) and once off, scores both as `summae evaluate` does, and writes
benchmarks/results/decoding-<YYYYMMDD>-<hardware>.json.
"""

from __future__ import annotations

import sys
from pathlib import Path

import model_on_dev


def main(argv=None) -> int:
    from summae.io import read_lines
    from summae.eval.readability import TrigramLM, readability
    from summae.summarize import Summarizer

    args, docs, refs = model_on_dev.parse("decoding", __doc__.split("\n")[0], argv)
    lm = TrigramLM(read_lines(str(Path(args.data_dir) / "gigaword" / "train.headline.txt")))
    summarizer = Summarizer.from_pretrained(args.model, device="cpu")
    result = {}
    for whole in (True, False):
        summarizer.model.whole_words = whole
        out = summarizer(docs)
        scores = model_on_dev.rouge(out, refs)
        result[f"whole_words_{'on' if whole else 'off'}"] = {
            **scores, "readability": readability(out, docs, lm), "first_summaries": out[:5]}
        print(whole, scores, file=sys.stderr)
    model_on_dev.write("decoding", args, len(docs), {"precision": summarizer.precision, **result})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
