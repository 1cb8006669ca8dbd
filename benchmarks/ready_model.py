"""The shipped ready model (summae/data/ready), measured: summaries and novelty scores.

    python benchmarks/ready_model.py [--data-dir ../shared/data] [--out benchmarks/results/ready-DATE-HW.json]

1) ROUGE of its default summaries on the 500 bundled Debian test descriptions, beside Lead-8, the first
   sentence and the first 75 bytes;
2) `summae score` on those descriptions (in domain) and on the first 500 Gigaword dev sentences (news, out
   of domain): the mean of each and the AUROC of "news scores higher" (the share of pairs it gets right).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def auroc(low: list[float], high: list[float]) -> float:
    """Share of (low, high) pairs with high > low (ties count half): the AUROC of `high` against `low`."""
    wins = sum((h > x) + 0.5 * (h == x) for h in high for x in low)
    return wins / (len(low) * len(high))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--model", help="a model directory to measure instead of the shipped one")
    parser.add_argument("--out")
    args = parser.parse_args(argv)

    from gigaword import commit, hardware  # benchmarks/ is on sys.path when this runs as a script

    from summae import READY_MODEL, Scorer, Summarizer
    from summae.io import read_lines
    from summae.eval.baselines import baseline_summaries
    from summae.eval.rouge import rouge_scores
    from summae.pipeline import bundled_test_set

    model = Path(args.model).resolve() if args.model else READY_MODEL
    test = bundled_test_set(words=8)
    summarizer = Summarizer.from_pretrained(model, device="cpu")
    keep = ("rouge1", "rouge2", "rougeL", "words")
    hyps = summarizer(test.documents)
    rouge = {"ready": rouge_scores(hyps, test.references),
             "lead8": rouge_scores(baseline_summaries(test.documents, lead=8), test.references),
             "lead1sent": rouge_scores(baseline_summaries(test.documents, lead_sentences=1), test.references),
             "prefix75": rouge_scores(baseline_summaries(test.documents, prefix=75), test.references)}
    scorer = Scorer.from_pretrained(model, device="cpu")
    news = read_lines(str(Path(args.data_dir) / "gigaword" / "dev.article.txt"))[:500]
    inside, outside = scorer(test.documents), scorer(news)
    inside, outside = [s for s in inside if s is not None], [s for s in outside if s is not None]
    hw, detail = hardware()
    result = {"benchmark": "ready_model", "commit": commit(), "date": dt.date.today().isoformat(),
              "hardware": hw, "hardware_detail": detail,
              "model": str(model.relative_to(ROOT)) if model.is_relative_to(ROOT) else str(model),
              "summarize_precision": summarizer.precision,
              "test": {name: {k: v[k] for k in keep} for name, v in rouge.items()},
              "score": {"debian_test_mean": round(sum(inside) / len(inside), 4),
                        "gigaword_dev_mean": round(sum(outside) / len(outside), 4),
                        "auroc_news_higher": round(auroc(inside, outside), 4),
                        "documents": {"debian_test": len(inside), "gigaword_dev": len(outside)}}}
    out = Path(args.out) if args.out else ROOT / "benchmarks" / "results" / f"ready-{dt.date.today():%Y%m%d}-{hw}.json"
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({k: result[k] for k in ("test", "score")}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
