"""The search at several (alpha, beta) settings over one bigram table, against one setting at a time.

    python benchmarks/experiments/shared_table.py --model runs/RUN [--checkpoint last] [--docs 1280] [--batch 64]

runs/RUN is any trained run, for its tokenizer and search (docs/autoencoder.md: runs/gw-tok is gigaword-cpu.yaml
trained one step). On training documents at lengths drawn from 6-13 words it times, per batch:
- the 9 family extractions (summae.train.criterion.FAMILY) made by setting the extractor's weights and calling
  Extractor.targets once per setting (the code before Extractor.targets_at), and by one Extractor.targets_at call;
- the 25 JUDGE_GRID extractions of all the documents, both ways;
- the judge's choice (three discriminators of the recipe's size, random weights) with every candidate row scored,
  and with each distinct row scored once (DiscriminatorJudge.choose);
and counts the rows where the two ways differ (they must not). Writes
benchmarks/results/shared-table-<date>-<hardware>-<name>.json.
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


def one_at_a_time(ex, docs: torch.Tensor, target: torch.Tensor, settings: list, width: int) -> list[torch.Tensor]:
    alpha, beta = ex.alpha, ex.beta
    out = []
    for a, b in settings:
        ex.alpha, ex.beta = a, b
        out.append(ex.targets(docs, target, max_tokens=width))
    ex.alpha, ex.beta = alpha, beta
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--checkpoint", default="last")
    parser.add_argument("--docs", type=int, default=1280)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--name", default="gwtok")
    args = parser.parse_args(argv)

    from own_corpus import build_extractor
    from summae.model.build import load_for_inference, padded_vocab_size
    from summae.model.discriminator import Discriminator
    from summae.tokenization import encode_texts, pad_ids
    from summae.train.criterion import FAMILY, extractions_at, family_extractions, pick_family
    from summae.train.data import load_training_texts
    from summae.train.judge import JUDGE_ENSEMBLE, JUDGE_GRID, DiscriminatorJudge, logits
    from throughput import write_result

    cfg, tok, model = load_for_inference(Path(args.model) / args.checkpoint)
    v, m = model.vocab, cfg.model
    width = m.max_summary_tokens
    ex = build_extractor(cfg, tok, v)
    texts = random.Random(0).sample(list(load_training_texts(cfg).docs["text"]), args.docs)
    docs = pad_ids(encode_texts(tok, texts, m.max_source_tokens - 1)[0], eos_id=v.eos_id, pad_id=v.pad_id,
                   width=m.max_source_tokens)
    target = torch.randint(6, 14, (len(docs),), generator=torch.Generator().manual_seed(0))
    batches = list(zip(torch.split(docs, args.batch), torch.split(target, args.batch)))
    family = [(ex.alpha * a, max(0.0, ex.beta + d)) for a, d in FAMILY]

    def timed(fn):
        begin = time.perf_counter()
        out = fn()
        return out, time.perf_counter() - begin

    old_family, t_old = timed(lambda: [one_at_a_time(ex, d, t, family, width) for d, t in batches])
    new_family, t_new = timed(lambda: [family_extractions(ex, d, t, width) for d, t in batches])
    family_diff = sum(int((a != b).any(1).sum()) for olds, news in zip(old_family, new_family)
                      for a, b in zip(olds, news))
    chunks = list(zip(torch.split(docs, 512), torch.split(target, 512)))
    old_grid, g_old = timed(lambda: [torch.cat(x) for x in zip(*[one_at_a_time(ex, d, t, JUDGE_GRID, width)
                                                                 for d, t in chunks])])
    new_grid, g_new = timed(lambda: extractions_at(ex, docs, target, JUDGE_GRID, width))
    grid_diff = sum(int((a != b).any(1).sum()) for a, b in zip(old_grid, new_grid))

    torch.manual_seed(0)
    discs = [Discriminator(vocab_size=padded_vocab_size(tok), d_model=m.disc_d_model, filters=m.disc_filters).eval()
             for _ in range(JUDGE_ENSEMBLE)]
    judge = DiscriminatorJudge(discs, v.pad_id)

    def every_row(d, t):  # the judge before: each candidate's rows scored, duplicates included
        candidates = family_extractions(ex, d, t, width)
        scores = torch.stack([sum(logits(disc, c, v.pad_id) for disc in discs) for c in candidates])
        return pick_family(candidates, scores.argmax(0))[0]

    old_pick, c_old = timed(lambda: [every_row(d, t) for d, t in batches])
    new_pick, c_new = timed(lambda: [judge.choose(ex, d, t, width)[0] for d, t in batches])
    pick_diff = sum(int((a != b).any(1).sum()) for a, b in zip(old_pick, new_pick))

    n = len(batches)
    result = {"model": args.model, "docs": len(docs), "batch": args.batch, "torch_threads": torch.get_num_threads(),
              "family_seconds_per_batch": {"one_at_a_time": round(t_old / n, 4), "targets_at": round(t_new / n, 4)},
              "family_rows_differing": family_diff,
              "grid_seconds": {"one_at_a_time": round(g_old, 2), "targets_at": round(g_new, 2)},
              "grid_rows_differing": grid_diff,
              "judge_choice_seconds_per_batch": {"every_row": round(c_old / n, 4),
                                                 "distinct_rows": round(c_new / n, 4)},
              "judge_picks_differing": pick_diff}
    print(result, file=sys.stderr)
    write_result("shared-table", result, tag=args.name)
    return 0 if family_diff == grid_diff == pick_diff == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
