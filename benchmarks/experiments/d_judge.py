"""Can the discriminator choose among the teacher's extractions? A judge that reads no reference.

    python benchmarks/experiments/d_judge.py --model runs/RUN [--checkpoint last] [--docs 4000] \\
        [--train-docs 8000] [--steps 1500] [--ensemble 1] [--dev FILE.jsonl] [--centers 'A,B ...'] [--name NAME]

A fresh discriminator (summae.train.judge.train_discriminator, the recipe's size) learns the run's real short
texts against extractions of training documents at every (alpha, beta) of the grid, so it favours no setting; each
extraction is made at a length drawn from the real texts' lengths in words, so length tells it nothing. Then, per
dev document, the candidate extraction it finds most real is picked, among the 9 settings around the teacher's
(summae.train.criterion.FAMILY) and among the whole grid, and the picks are scored against the references. With
`--margins`, the teacher's extraction is kept unless another candidate scores that many logits above it (a trust
region around the teacher; the margin is read off dev references, so it is a screen, not a method). Beside D: the
headline bigram LM's log-probability per word (the extractor's own LM of the real texts) as the judge, and the sum
of the two ranks. `--ensemble K` averages K discriminators' logits. `--centers` adds the
judge's picks among the family around other settings (with the same discriminators), e.g. the reference-free
teacher choice's, beside the run's own teacher's. No reference is read in training or choosing;
dev references only score. The trainer's option is train.pseudo_judge=discriminator (summae/train/judge.py).
Writes benchmarks/results/d-judge-<date>-<hardware>-<name>.json.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--checkpoint", default="last")
    parser.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--docs", type=int, default=4000, help="dev documents scored")
    parser.add_argument("--dev", help="a jsonl dev set with references (default: Gigaword dev)")
    parser.add_argument("--text-field", default="document", help="--dev: the document field")
    parser.add_argument("--reference-field", default="summary", help="--dev: the reference field")
    parser.add_argument("--train-docs", type=int, default=8000, help="training documents extracted for D's fakes")
    parser.add_argument("--real-texts", type=int, default=60000, help="real short texts D reads")
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--ensemble", type=int, default=1, help="discriminators (seeds seed, seed+1, ...) averaged")
    parser.add_argument("--disc-d-model", type=int, help="the discriminators' embedding width (default: the run's "
                        "model.disc_d_model)")
    parser.add_argument("--disc-filters", type=int, help="their filters per width (default: model.disc_filters)")
    parser.add_argument("--alphas", default="0.5,1,1.5,2,3")
    parser.add_argument("--betas", default="0,0.1,0.2,0.3,0.5")
    parser.add_argument("--fakes", choices=("grid", "family"), default="grid",
                        help="the settings whose extractions D learns as fakes")
    parser.add_argument("--margins", default="0,0.5,1,2,3,4", help="trust-region margins in logits (a dev screen)")
    parser.add_argument("--centers", default="", help="more family centers, e.g. '2,0.2 1,0.3': the judge's picks "
                        "among the family around each (the same discriminators), beside the run's own teacher's")
    parser.add_argument("--name", default="d-judge")
    args = parser.parse_args(argv)

    from gigaword import dev_pairs
    from own_corpus import build_extractor
    from summae.eval.rouge import rouge_scores
    from summae.model.build import load_for_inference, padded_vocab_size
    from summae.tokenization import decode_texts, encode_texts, pad_ids
    from summae.train.criterion import extractions_at, family_settings
    from summae.train.data import load_training_texts
    from summae.train.judge import logits, train_discriminator
    from throughput import write_result

    torch.manual_seed(args.seed)
    started = time.perf_counter()
    cfg, tok, model = load_for_inference(Path(args.model) / args.checkpoint)
    vocab, m, s = model.vocab, cfg.model, cfg.summary
    ex = build_extractor(cfg, tok, vocab)
    width = m.max_summary_tokens
    texts = load_training_texts(cfg)
    rng = random.Random(args.seed)
    real_texts = rng.sample(texts.real, min(args.real_texts, len(texts.real)))
    train_texts = rng.sample(list(texts.docs["text"]), min(args.train_docs, len(texts.docs)))
    real = pad_ids(encode_texts(tok, real_texts, width - 1)[0], eos_id=vocab.eos_id, pad_id=vocab.pad_id, width=width)
    lengths = [min(s.max_words, max(s.min_words, len(t.split()))) for t in real_texts]
    docs = pad_ids(encode_texts(tok, train_texts, m.max_source_tokens - 1)[0], eos_id=vocab.eos_id,
                   pad_id=vocab.pad_id, width=m.max_source_tokens)
    words = torch.tensor([rng.choice(lengths) for _ in train_texts])

    teacher = (cfg.train.extract_alpha, cfg.train.extract_beta)

    def family_of(center: tuple[float, float]) -> list[tuple[float, float]]:  # rounded: the settings are dict keys
        return [(round(a, 4), round(b, 4)) for a, b in family_settings(*center)]

    family = family_of(teacher)
    centers = [tuple(float(x) for x in c.split(",")) for c in args.centers.split()]
    grid = [(float(a), float(b)) for a in args.alphas.split(",") for b in args.betas.split(",")]
    fake = torch.cat(extractions_at(ex, docs, words, grid if args.fakes == "grid" else family, width))
    print(f"{len(real)} real texts, {len(fake)} extractions ({time.perf_counter() - started:.0f} s)", file=sys.stderr)
    d_model, filters = args.disc_d_model or m.disc_d_model, args.disc_filters or m.disc_filters
    fit_begin, discs, accuracy = time.perf_counter(), [], []
    for k in range(args.ensemble):
        disc, acc = train_discriminator(real, fake, vocab_size=padded_vocab_size(tok), pad_id=vocab.pad_id,
                                        steps=args.steps, batch=args.batch, lr=args.lr, seed=args.seed + k,
                                        d_model=d_model, filters=filters)
        discs.append(disc)
        accuracy.append(acc)
    fit_seconds = time.perf_counter() - fit_begin
    accuracy = accuracy[0] if args.ensemble == 1 else accuracy
    print(f"D held-out accuracy {accuracy} ({time.perf_counter() - started:.0f} s; the discriminators "
          f"{fit_seconds:.0f} s)", file=sys.stderr)

    documents, references = dev_pairs(Path(args.data_dir), args.docs, args.dev, text_field=args.text_field,
                                      reference_field=args.reference_field)
    dev_docs = pad_ids(encode_texts(tok, documents, m.max_source_tokens - 1)[0], eos_id=vocab.eos_id,
                       pad_id=vocab.pad_id, width=m.max_source_tokens)
    settings = sorted(set(grid) | set(family) | {teacher} | set(centers)
                      | {k for c in centers for k in family_of(c)})
    cands = dict(zip(settings, extractions_at(ex, dev_docs, torch.full((len(documents),), s.default_words), settings,
                                              width)))
    d_score = {k: sum(logits(d, ids, vocab.pad_id) for d in discs) / len(discs) for k, ids in cands.items()}  # (N,)
    lm_score = {k: ex.lm_per_word(ids) for k, ids in cands.items()}  # log-probability per word
    texts_of = {k: decode_texts(tok, ids) for k, ids in cands.items()}
    keep = ("rouge1", "rouge2", "rougeL", "words")

    def score(picks: list[tuple[float, float]]) -> dict:
        hyps = [texts_of[k][j].strip() for j, k in enumerate(picks)]
        r = rouge_scores(hyps, references)
        return {k: r[k] for k in keep}

    result = {"model": args.model, "checkpoint": args.checkpoint, "dev": args.dev or "gigaword dev",
              "docs": len(documents), "train_docs": len(docs),
              "real_texts": len(real), "steps": args.steps, "seed": args.seed, "ensemble": args.ensemble,
              "disc_d_model": d_model, "disc_filters": filters, "fit_seconds": round(fit_seconds, 1),
              "fakes": args.fakes, "teacher": list(teacher),
              "discriminator": accuracy, "teacher_scores": score([teacher] * len(documents)), "judges": {}}
    for group, names in (("family", family), ("grid", grid)):
        for judge, table in (("D", d_score), ("LM", lm_score), ("D+LM ranks", None)):
            if table is None:  # the sum of each candidate's rank under both judges (0 = best)
                table = {k: -(rank(d_score, names)[k] + rank(lm_score, names)[k]).float() for k in names}
            stacked = torch.stack([table[k] for k in names])  # (C, N)
            best = stacked.argmax(0)
            picks = [names[i] for i in best.tolist()]
            result["judges"][f"{judge} over {group}"] = score(picks)
            if judge == "D" and group == "family":
                share = sum(p == teacher for p in picks) / len(picks)
                result["judges"][f"{judge} over {group}"]["teacher_share"] = round(share, 4)
                for margin in [float(x) for x in args.margins.split(",")]:
                    lead = stacked.max(0).values - table[teacher]
                    trust = [names[i] if gap > margin else teacher for i, gap in zip(best.tolist(), lead.tolist())]
                    result["judges"][f"D over family, margin {margin:g}"] = score(trust)
            print(f"{judge} over {group}: {result['judges'][f'{judge} over {group}']}", file=sys.stderr)
    result["centers"] = {}
    for center in centers:  # the same judge around another teacher setting (e.g. a reference-free choice)
        names = family_of(center)
        best = torch.stack([d_score[k] for k in names]).argmax(0)
        result["centers"][f"a={center[0]:g} b={center[1]:g}"] = {
            "teacher": score([center] * len(documents)), "D over family": score([names[i] for i in best.tolist()])}
        print(f"center {center}: {result['centers'][f'a={center[0]:g} b={center[1]:g}']}", file=sys.stderr)
    result["candidates"] = {
        f"a={a:g} b={b:g}": {"d_mean": round(d_score[(a, b)].mean().item(), 4),
                             "rouge1": score([(a, b)] * len(documents))["rouge1"]} for a, b in settings}
    result["seconds"] = round(time.perf_counter() - started, 1)
    write_result("d-judge", result, tag=args.name)
    return 0


def rank(table: dict, names: list) -> dict:
    """Each candidate's rank per document under a judge's scores (0 = highest)."""
    stacked = torch.stack([table[k] for k in names])  # (C, N)
    order = stacked.argsort(0, descending=True).argsort(0)
    return {k: order[i] for i, k in enumerate(names)}


if __name__ == "__main__":
    raise SystemExit(main())
