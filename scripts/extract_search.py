"""Score the extraction search of `train.pseudo: extract` (summae/train/pseudo.py) on its own, with no model.

    python scripts/extract_search.py [--data-dir ../shared/data] [--alphas 1,1.5,2] [--betas 0.1,0.2,0.3]
        [--tune-docs 1000] [--words 10] [--set k=v ...] [--out benchmarks/results/extract-DATE-HW.json]

Trains the recipe's tokenizer (summae/configs/gigaword.yaml) on articles + headlines, builds the search from the
headline corpus (less --held-out headlines) and the training articles, and scores a grid of (alpha, beta) two
ways:
- with references: ROUGE of the 10-word extractions of the first --tune-docs dev documents against their
  titles (how the recipe's values were picked);
- without references: summae.train.pseudo.reverse_lm_score, the held-out headlines' log-probability per token
  under a bigram LM of the extractions of --criterion-docs training articles (what a user with a new corpus
  and no references can compute);
- without references, by description length (--judge-steps > 0): summae.train.criterion, the nats needed to
  send held-out training articles as summary (under the headline LM) + article given summary (under a small
  reconstructor trained on every setting's extractions). `--set train.seed=S` seeds the tokenizer's sample
  and the judge (its initialization and batches); the judge's 5,000 articles stay the same.
The pair each criterion picks is then scored on all of dev and on DUC-2003, beside Lead-8 and Lead-10. This is
the teacher the compressor distils; it needs no labels, but it is slow search, not the model.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))


def floats(text: str) -> list[float]:
    return [float(x) for x in text.split(",")]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--alphas", type=floats, default=[1.0, 1.5, 2.0])
    parser.add_argument("--betas", type=floats, default=[0.1, 0.2, 0.3])
    parser.add_argument("--tune-docs", type=int, default=1000, help="dev documents the grid is scored on")
    parser.add_argument("--words", type=int, default=10)
    parser.add_argument("--held-out", type=int, default=5000, help="headlines kept out of the search's LM")
    parser.add_argument("--criterion-docs", type=int, default=20000,
                        help="training articles extracted for the reference-free criterion")
    parser.add_argument("--judge-steps", type=int, default=0,
                        help="train the description-length judge this many steps (0: skip that criterion)")
    parser.add_argument("--judge-docs", type=int, default=4000, help="training articles the judge learns from")
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="override summae/configs/gigaword.yaml (e.g. model.max_summary_tokens=20)")
    parser.add_argument("--out", help="result JSON (default benchmarks/results/extract-DATE-HW.json)")
    args = parser.parse_args(argv)

    from gigaword import commit, eval_sets, hardware
    from summae.tokenization import encode_texts, pad_ids
    from summae.config import load_config
    from summae.io import read_lines
    from summae.eval.baselines import baseline_summaries
    from summae.eval.rouge import rouge_scores
    from summae.train.pseudo import Extractor, reverse_lm_score
    from summae.pipeline import teacher_summaries
    from summae.tokenization import VocabInfo, sample_texts, train_sentencepiece

    begin = time.perf_counter()
    cfg = load_config(ROOT / "summae" / "configs" / "gigaword.yaml", [f"data.data_dir={args.data_dir}", *args.set])
    giga = Path(args.data_dir) / "gigaword"
    articles, headlines = read_lines(str(giga / "train.article.txt")), read_lines(str(giga / "train.headline.txt"))
    m = cfg.model
    # a tokenizer of the recipe's size: SentencePiece on a seeded sample of articles and headlines
    import datasets
    sample = sample_texts(datasets.Dataset.from_dict({"text": articles + headlines}), cfg.tokenizer.train_sentences,
                          cfg.train.seed)
    tok = train_sentencepiece(sample, vocab_size=cfg.tokenizer.vocab_size, max_words=cfg.summary.max_words,
                              character_coverage=cfg.tokenizer.character_coverage)
    vocab = VocabInfo(tok, len(tok), cfg.summary.max_words)

    def matrix(texts):
        ids, _ = encode_texts(tok, texts, m.max_source_tokens - 1)
        return pad_ids(ids, eos_id=vocab.eos_id, pad_id=vocab.pad_id, width=m.max_source_tokens)

    docs, real = matrix(articles), matrix(headlines)
    real, held_out = real[: -args.held_out], real[-args.held_out:]  # the criterion's real texts: unseen by the LM
    ex = Extractor(real, docs, word_start=vocab.word_start, pad_id=vocab.pad_id, eos_id=vocab.eos_id,
                   alpha=cfg.train.extract_alpha, beta=cfg.train.extract_beta)

    def extract(texts: list[str]) -> list[str]:
        return teacher_summaries(ex, tok, vocab, m, texts, args.words)

    keep = ("rouge1", "rouge2", "rougeL", "words")
    sets = {s.name: s for s in eval_sets(Path(args.data_dir))}
    dev = sets["dev"]
    tune_docs, tune_refs = dev.documents[: args.tune_docs], dev.references[: args.tune_docs]
    import torch

    criterion_docs = docs[: args.criterion_docs]  # training articles, no references
    grid = []
    for alpha in args.alphas:
        for beta in args.betas:
            ex.alpha, ex.beta = alpha, beta
            scores = rouge_scores(extract(tune_docs), tune_refs)
            picked = torch.cat([ex.targets(rows, torch.full((rows.shape[0],), args.words),
                                           max_tokens=m.max_summary_tokens)
                                for rows in torch.split(criterion_docs, 1024)])
            grid.append({"alpha": alpha, "beta": beta, **{k: scores[k] for k in keep},
                         "reverse_lm": round(reverse_lm_score(ex, picked, held_out), 4)})
            print(json.dumps(grid[-1]), file=sys.stderr, flush=True)
    best = max(grid, key=lambda row: row["rouge1"])  # with references (dev titles)
    free = max(grid, key=lambda row: row["reverse_lm"])  # without references
    if args.judge_steps > 0:  # without references: the shortest description of held-out articles
        from summae.train.criterion import choose_teacher

        pool = docs[torch.randperm(len(docs), generator=torch.Generator().manual_seed(1))[: args.judge_docs + 1000]]
        choice = choose_teacher(cfg, tok, ex, pool, [(r["alpha"], r["beta"]) for r in grid], words=args.words,
                                fit_docs=args.judge_docs, score_docs=1000, steps=args.judge_steps,
                                seed=cfg.train.seed, echo=lambda line: print(line, file=sys.stderr))
        for row, scored in zip(grid, choice.table):
            row["description_nats"] = scored["description_nats"]
        free = next(r for r in grid if (r["alpha"], r["beta"]) == (choice.alpha, choice.beta))
    result = {"benchmark": "extract_search", "commit": commit(), "overrides": args.set,
              "max_summary_tokens": m.max_summary_tokens, "date": dt.date.today().isoformat(),
              "hardware": hardware()[0], "hardware_detail": hardware()[1], "words": args.words,
              "tune_docs": args.tune_docs, "criterion_docs": len(criterion_docs), "held_out": args.held_out,
              "grid": grid, "picked": {"alpha": best["alpha"], "beta": best["beta"]},
              "picked_without_references": {"alpha": free["alpha"], "beta": free["beta"]},
              "criterion_without_references": "description_nats" if args.judge_steps > 0 else "reverse_lm",
              "judge_steps": args.judge_steps,
              "tune_lead": {f"lead{n}": {k: v for k, v in rouge_scores(baseline_summaries(tune_docs, lead=n),
                                                                       tune_refs).items() if k in keep}
                            for n in (8, 10)}}
    for name, eval_set in sets.items():
        ex.alpha, ex.beta = free["alpha"], free["beta"]
        free_scores = rouge_scores(extract(eval_set.documents), eval_set.references, duc=eval_set.duc)
        ex.alpha, ex.beta = best["alpha"], best["beta"]
        hyps = extract(eval_set.documents)
        result[name] = {"search": {k: v for k, v in rouge_scores(hyps, eval_set.references, duc=eval_set.duc).items()
                                   if k in keep},
                        "search_without_references": {k: v for k, v in free_scores.items() if k in keep},
                        "samples": [{"document": d, "search": h, "references": r} for d, h, r in
                                    list(zip(eval_set.documents, hyps, eval_set.references))[:10]]}
    result["seconds"] = round(time.perf_counter() - begin, 1)
    out = Path(args.out) if args.out else (ROOT / "benchmarks" / "results" /
                                           f"extract-{dt.date.today():%Y%m%d}-{result['hardware']}.json")
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({"picked": result["picked"], "picked_without_references": result["picked_without_references"],
                      "dev": result["dev"]["search"],
                      "dev_without_references": result["dev"]["search_without_references"],
                      "duc2003": result.get("duc2003", {}).get("search")}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
