"""Does the reference-free teacher criterion follow dev ROUGE along a wider grid? Each setting's description length
beside its dev scores.

    python benchmarks/experiments/criterion_grid.py --model runs/RUN [--checkpoint best] [--dev FILE.jsonl] \\
        [--text-field body] [--reference-field summary] [--docs 500] [--alphas 1,1.5,2,3] \\
        [--betas 0.1,0.2,0.3,0.5,0.8] [--seed 0] --name NAME

The run's tokenizer and search (its real texts' bigram LM, idf over its training documents) are rebuilt; then
summae.train.criterion.choose_teacher, as train.teacher_search runs it (the same document counts, judge steps and
batch), scores every (alpha, beta) of the grid by the description length of held-out training documents through
the setting's extractions: no references. Each setting's extractions of the dev documents, at the run's
summary.default_words, are then scored against the dev references, so the criterion's pick can be set beside the
best setting by references. Dev references only score. Writes benchmarks/results/criterion-grid-<date>-<hw>-<name>.json.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True, help="a run directory")
    parser.add_argument("--checkpoint", default="best")
    parser.add_argument("--dev", help="a jsonl file of documents and references (default: Gigaword dev)")
    parser.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data"), help="without --dev: gigaword/")
    parser.add_argument("--text-field", default="document")
    parser.add_argument("--reference-field", default="summary")
    parser.add_argument("--docs", type=int, default=500, help="dev documents scored")
    parser.add_argument("--alphas", default="1,1.5,2,3")
    parser.add_argument("--betas", default="0.1,0.2,0.3,0.5,0.8")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--name", required=True)
    args = parser.parse_args(argv)

    from gigaword import dev_pairs
    from own_corpus import build_extractor
    from summae.eval.rouge import rouge_scores
    from summae.model.build import load_for_inference
    from summae.tokenization import decode_texts, encode_texts, pad_ids
    from summae.train import criterion
    from summae.train.data import load_training_texts
    from throughput import write_result

    started = time.perf_counter()
    cfg, tok, model = load_for_inference(Path(args.model) / args.checkpoint)
    vocab, m, s = model.vocab, cfg.model, cfg.summary
    ex = build_extractor(cfg, tok, vocab)
    if ex is None:
        raise SystemExit(f"{args.model} was trained without real short texts: it has no extraction search")
    grid = [(float(a), float(b)) for a in args.alphas.split(",") for b in args.betas.split(",")]

    texts = list(load_training_texts(cfg).docs["text"])
    docs = pad_ids(encode_texts(tok, texts, m.max_source_tokens - 1)[0], eos_id=vocab.eos_id, pad_id=vocab.pad_id,
                   width=m.max_source_tokens)
    choice = criterion.search_teacher(cfg, tok, ex, docs, grid, seed=args.seed,
                                      echo=lambda line: print(line, file=sys.stderr))

    documents, references = dev_pairs(Path(args.data_dir), args.docs, args.dev, text_field=args.text_field,
                                      reference_field=args.reference_field)
    dev = pad_ids(encode_texts(tok, documents, m.max_source_tokens - 1)[0], eos_id=vocab.eos_id, pad_id=vocab.pad_id,
                  width=m.max_source_tokens)
    picked = criterion.extractions_at(ex, dev.long(), torch.full((len(documents),), s.default_words), grid,
                                      m.max_summary_tokens)
    rows = []
    for row, ids in zip(choice.table, picked):
        scores = rouge_scores([h.strip() for h in decode_texts(tok, ids)], references)
        rows.append({**row, **{k: scores[k] for k in ("rouge1", "rouge2", "rougeL", "words")}})
        print(f"alpha {row['alpha']:g} beta {row['beta']:g}: {row['description_nats']:.3f} nats, dev "
              f"{scores['rouge1']} / {scores['rouge2']} / {scores['rougeL']}", file=sys.stderr)
    by_refs = max(rows, key=lambda r: r["rouge1"])
    pick = next(r for r in rows if (r["alpha"], r["beta"]) == (choice.alpha, choice.beta))
    result = {"model": args.model, "checkpoint": args.checkpoint, "dev": args.dev, "docs": len(documents),
              "words": s.default_words, "seed": args.seed, "grid": rows,
              "criterion_pick": pick, "reference_best": by_refs,
              "criterion_seconds": choice.seconds, "seconds": round(time.perf_counter() - started, 1)}
    print(f"criterion picks ({choice.alpha:g}, {choice.beta:g}): dev R-1 {pick['rouge1']}; by references "
          f"({by_refs['alpha']:g}, {by_refs['beta']:g}): {by_refs['rouge1']}", file=sys.stderr)
    write_result("criterion-grid", result, tag=args.name)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
