"""How many tokens do the teacher's extractions need? The share of them that a summary token cap would cut, at the
run's default length and at its longest.

    python benchmarks/experiments/summary_cap.py --run runs/RUN [--docs 1000] [--caps 22,33] [--out FILE]

Runs the run's extraction search (benchmarks/own_corpus.py's build_extractor: the run's tokenizer, data files and
weights) on the last --docs training documents with no cap (the source length as the cap), and reports the token
counts of the extractions (mean, 90th and 99th percentile, max) and how many exceed each cap in --caps (tokens,
EOS not counted). No references are read. On the Debian ready build, the cap before 2026-12-05 was 22 tokens + EOS.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run", required=True, help="a training run directory (its best/ and data files)")
    parser.add_argument("--docs", type=int, default=1000, help="the last N training documents")
    parser.add_argument("--caps", default="22,33", help="token caps to count extractions over (EOS not counted)")
    parser.add_argument("--out", help="JSON file (default: print only)")
    args = parser.parse_args(argv)

    import torch

    from own_corpus import build_extractor
    from summae.model.build import load_for_inference
    from summae.tokenization import encode_texts, pad_ids
    from summae.train.auto import quantile
    from summae.train.data import load_training_texts

    cfg, tokenizer, model = load_for_inference(Path(args.run) / "best")
    vocab, m = model.vocab, cfg.model
    texts = list(load_training_texts(cfg, echo=lambda _: None).docs["text"])[-args.docs:]
    ids, _ = encode_texts(tokenizer, texts, m.max_source_tokens - 1)
    docs = pad_ids(ids, eos_id=vocab.eos_id, pad_id=vocab.pad_id, width=m.max_source_tokens)
    extractor = build_extractor(cfg, tokenizer, vocab)
    caps = [int(c) for c in args.caps.split(",")]
    rows = {}
    for words in sorted({cfg.summary.default_words, cfg.summary.max_words}):
        out = extractor.targets(docs, torch.full((docs.shape[0],), words), max_tokens=m.max_source_tokens)
        counts = ((out != vocab.pad_id) & (out != vocab.eos_id)).sum(1).tolist()
        rows[str(words)] = {"mean": round(sum(counts) / len(counts), 2), "p90": quantile(counts, 0.9),
                            "p99": quantile(counts, 0.99), "max": max(counts),
                            "over_cap": {str(c): round(100 * sum(n > c for n in counts) / len(counts), 1)
                                         for c in caps}}
        print(f"{words} words: tokens mean {rows[str(words)]['mean']}, p90 {rows[str(words)]['p90']}, p99 "
              f"{rows[str(words)]['p99']}, max {rows[str(words)]['max']}; % over cap "
              + ", ".join(f"{c}: {v}" for c, v in rows[str(words)]["over_cap"].items()))
    result = {"benchmark": "summary_cap", "run": args.run, "documents": len(texts),
              "extract": [cfg.train.extract_alpha, cfg.train.extract_beta], "extraction_tokens_by_words": rows}
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
