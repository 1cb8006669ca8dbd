"""Does the reconstructor know a good summary? Rerank candidate summaries of dev documents by how well a trained
reconstructor rebuilds the document from each, and score the picks against the references.

    python benchmarks/experiments/rerank_by_reconstruction.py --model runs/RUN [--checkpoint best|last]
        [--docs 1000] [--samples 4] [--temperature 0.7] [--lm-weights 0,0.1,0.3] [--rec-prefix N] [--out FILE]

Candidates per document, all at the default length: the extraction search at a grid of (alpha, beta) (the
teacher's family), the model's greedy summary, and `--samples` sampled summaries. For each candidate: the
reconstructor's NLL of the document (nats/token) and the headline bigram LM's log-probability per word. The
picks minimise NLL - w * LM for each w in --lm-weights, and the description length (summae.train.criterion: the
summary's nats under the LM plus the document's under the reconstructor, no weight). `--rec-prefix N` scores the
NLL of the document's first N tokens only (the reconstructor's `rec_target_tokens` at evaluation): a content term
with the lead's position prior, which the whole-document NLL cannot see. References are used only to score the
picks: this is an analysis of a selection criterion, not a tuning run.
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
    parser.add_argument("--model", required=True)
    parser.add_argument("--checkpoint", default="best")
    parser.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--docs", type=int, default=1000)
    parser.add_argument("--samples", type=int, default=4)
    parser.add_argument("--temperature", type=float, default=0.7)
    parser.add_argument("--alphas", default="0.5,1.5,3")
    parser.add_argument("--betas", default="0,0.2,0.5")
    parser.add_argument("--lm-weights", default="0,0.1,0.3,1")
    parser.add_argument("--rec-prefix", type=int, default=0, help="NLL of the first N document tokens (0: all)")
    parser.add_argument("--judge-steps", type=int, default=0,
                        help="score with a judge (summae.train.criterion) trained this many steps on the candidates' "
                             "settings for --judge-docs training articles, not the model's reconstructor (0)")
    parser.add_argument("--judge-docs", type=int, default=20000)
    parser.add_argument("--judge-size", default="128,2", help="the judge's d_model,layers (encoder and decoder)")
    parser.add_argument("--out")
    args = parser.parse_args(argv)

    import torch

    from gigaword import eval_sets
    from summae.eval.bottleneck import word_order_score
    from summae.eval.rouge import rouge_scores
    from summae.io import read_lines
    from summae.model.build import load_for_inference
    from summae.train.criterion import description_per_document
    from summae.tokenization import decode_texts, encode_texts, pad_ids
    from summae.train.pseudo import Extractor

    torch.manual_seed(0)
    cfg, tok, model = load_for_inference(Path(args.model) / args.checkpoint, with_reconstructor=True)
    vocab, m = model.vocab, cfg.model
    if args.rec_prefix:
        model.rec_target_tokens = args.rec_prefix  # evaluation: the first N tokens (SummaeModel.rec_target)
    giga = Path(args.data_dir) / "gigaword"

    def matrix(texts):
        ids, _ = encode_texts(tok, texts, m.max_source_tokens - 1)
        return pad_ids(ids, eos_id=vocab.eos_id, pad_id=vocab.pad_id, width=m.max_source_tokens)

    ex = Extractor(matrix(read_lines(str(giga / "train.headline.txt"))),
                   matrix(read_lines(str(giga / "train.article.txt"))),
                   word_start=vocab.word_start, pad_id=vocab.pad_id, eos_id=vocab.eos_id,
                   alpha=cfg.train.extract_alpha, beta=cfg.train.extract_beta)
    dev = next(s for s in eval_sets(Path(args.data_dir)) if s.name == "dev")
    documents, references = dev.documents[: args.docs], dev.references[: args.docs]
    docs = matrix(documents)  # (N, L)
    words = cfg.summary.default_words
    judge, judge_log = model, None
    if args.judge_steps:  # a judge trained on every extraction setting at once, so that it favours none
        from summae.train.criterion import train_judge
        d_model, layers = (int(x) for x in args.judge_size.split(","))
        size = {"d_model": d_model, "encoder_layers": layers, "decoder_layers": layers, "ffn_dim": 4 * d_model}
        grid = [(float(a), float(b)) for a in args.alphas.split(",") for b in args.betas.split(",")]
        fit = matrix(read_lines(str(giga / "train.article.txt"))[: args.judge_docs])
        judge_log = []
        judge, _ = train_judge(cfg, tok, ex, fit, grid, words=words, steps=args.judge_steps, batch_size=64,
                               size=size, echo=judge_log.append)
        print(*judge_log, file=sys.stderr)
        judge.eval()

    names, cands = [], []  # candidates: name -> (N, S) ids
    for a in [float(x) for x in args.alphas.split(",")]:
        for b in [float(x) for x in args.betas.split(",")]:
            ex.alpha, ex.beta = a, b
            names.append(f"extract a={a} b={b}")
            cands.append(torch.cat([ex.targets(rows, torch.full((rows.shape[0],), words),
                                               max_tokens=m.max_summary_tokens) for rows in torch.split(docs, 256)]))
    gen = torch.Generator().manual_seed(0)
    for i in range(-1, args.samples):
        out = []
        for rows in torch.split(docs, 256):
            target = torch.full((rows.shape[0],), words)
            comp_ids, comp_mask = model.compressor_inputs(rows, rows != vocab.pad_id, target)
            out.append(model.write_summary(comp_ids, comp_mask, target, temperature=0.0 if i < 0 else args.temperature,
                                           generator=gen))
        names.append("model greedy" if i < 0 else f"model sample {i}")
        cands.append(torch.cat(out))
    # the description length of each document through each candidate (summae.train.criterion): no weight to set;
    # its document part over the tokens rebuilt is the reconstruction NLL per token
    tokens = (judge.rec_target(docs) != vocab.pad_id).sum(1).float()  # (N,)
    parts = [description_per_document(judge, ex, c, docs, vocab.pad_id) for c in cands]
    dl = torch.stack([summary + document for summary, document in parts])  # (C, N)
    nll = torch.stack([document / tokens for _, document in parts])  # (C, N) nats per token
    lm = torch.stack([ex.lm_per_word(c) for c in cands])  # (C, N): the headline LM per word
    texts = [[t.strip() for t in decode_texts(tok, c.tolist())] for c in cands]
    keep = ("rouge1", "rouge2", "rougeL", "words")
    result = {"model": args.model, "checkpoint": args.checkpoint, "docs": len(documents),
              "rec_prefix": args.rec_prefix, "candidates": {}}
    if judge_log:
        result["judge"] = {"steps": args.judge_steps, "docs": args.judge_docs, "size": args.judge_size,
                           "log": judge_log}
    for name, t, n, l in zip(names, texts, nll, lm):
        scores = rouge_scores(t, references)
        result["candidates"][name] = {**{k: scores[k] for k in keep}, "rec_nll": round(float(n.mean()), 4),
                                      "lm_per_word": round(float(l.mean()), 4),
                                      "word_order": round(word_order_score(t, documents), 4)}
        print(name, result["candidates"][name], file=sys.stderr)
    groups = {"extractions": [i for i, n in enumerate(names) if n.startswith("extract")],
              "model": [i for i, n in enumerate(names) if n.startswith("model")], "all": list(range(len(names)))}
    result["picks"] = {}
    for gname, idx in groups.items():
        for w in [float(x) for x in args.lm_weights.split(",")]:
            crit = nll[idx] - w * lm[idx]  # (C', N)
            best = crit.argmin(0)
            picked = [texts[idx[c]][j] for j, c in enumerate(best.tolist())]
            scores = rouge_scores(picked, references)
            oracle = {k: scores[k] for k in keep}
            result["picks"][f"{gname}, lm weight {w}"] = {**oracle,
                                                          "word_order": round(word_order_score(picked, documents), 4)}
            print(gname, w, result["picks"][f"{gname}, lm weight {w}"], file=sys.stderr)
        picked = [texts[idx[c]][j] for j, c in enumerate(dl[idx].argmin(0).tolist())]
        scores = rouge_scores(picked, references)
        result["picks"][f"{gname}, description length"] = {**{k: scores[k] for k in keep},
                                                           "word_order": round(word_order_score(picked, documents), 4)}
        print(gname, "description length", result["picks"][f"{gname}, description length"], file=sys.stderr)
    print(json.dumps(result["picks"], indent=1))
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
