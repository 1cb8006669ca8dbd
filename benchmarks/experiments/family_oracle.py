"""How much is there to gain by choosing among extractions? A reference oracle over candidate summaries of dev.

    python benchmarks/experiments/family_oracle.py --model runs/RUN [--checkpoint best] [--docs 4000] \\
        [--alphas 0.5,1,1.5,2,3] [--betas 0,0.1,0.2,0.3,0.5] [--name NAME]

Candidates per document, all at the model's default length: the extraction search at each (alpha, beta) of the
grid (the run's own search, benchmarks/own_corpus.py's build_extractor), and the model's summary
under `summae summarize`'s default decoding. For each group of candidates (the teacher and the student; the 9 settings
around the teacher's, summae.train.criterion.FAMILY; the whole grid; the grid and the student) the pick with the
highest ROUGE-1 F1 against the document's reference, scored as a corpus. This is a ceiling, not a method: the
references choose. It says how far any judge that only chooses among these candidates (the reconstructor, the
discriminator, an LM) could lift dev ROUGE above the teacher, and how far the student's own summaries add to the
teacher's.

Beside each oracle, a judge that reads no reference: the consensus pick (minimum Bayes risk), the candidate that
agrees best with the group's other candidates (`consensus` below: the sum over them of unigram + bigram F1 over
the run's token ids). `--no-student` leaves the student out (the
extraction groups only). Writes benchmarks/results/family-oracle-<date>-<hardware>-<name>.json.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--checkpoint", default="best")
    parser.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--docs", type=int, default=4000)
    parser.add_argument("--alphas", default="0.5,1,1.5,2,3")
    parser.add_argument("--betas", default="0,0.1,0.2,0.3,0.5")
    parser.add_argument("--name", default="oracle")
    parser.add_argument("--no-student", action="store_true", help="extraction candidates only")
    args = parser.parse_args(argv)

    from own_corpus import build_extractor
    from rouge_score import rouge_scorer

    from gigaword import eval_sets
    from summae.eval.rouge import rouge_scores
    from summae.model.build import load_for_inference
    from summae.pipeline import teacher_summaries
    from summae.summarize import Summarizer
    from summae.train.criterion import FAMILY
    from throughput import write_result

    path = Path(args.model) / args.checkpoint
    cfg, tok, model = load_for_inference(path)
    ex = build_extractor(cfg, tok, model.vocab)  # the run's own search, built as its trainer built it
    dev = next(s for s in eval_sets(Path(args.data_dir)) if s.name == "dev")
    documents, references = dev.documents[: args.docs], dev.references[: args.docs]
    words = cfg.summary.default_words
    teacher = (cfg.train.extract_alpha, cfg.train.extract_beta)
    family = [(round(teacher[0] * a, 4), round(max(0.0, teacher[1] + d), 4)) for a, d in FAMILY]

    texts: dict[str, list[str]] = {}  # candidate -> its summary of each document
    grid = [(float(a), float(b)) for a in args.alphas.split(",") for b in args.betas.split(",")]
    for a, b in sorted(set(grid) | set(family) | {teacher}):
        ex.alpha, ex.beta = a, b
        texts[f"extract a={a:g} b={b:g}"] = teacher_summaries(ex, tok, model.vocab, cfg.model, documents, words)
    # the student as `summae summarize` writes by default
    if not args.no_student:
        texts["student"] = Summarizer.from_pretrained(path, device="cpu", precision="auto")(documents)

    scorer = rouge_scorer.RougeScorer(["rouge1"], use_stemmer=True)
    ids = {name: token_ids(tok, model.vocab, hyps, cfg.model.max_summary_tokens) for name, hyps in texts.items()}

    def r1(hyp: str, refs: list[str]) -> float:  # the document's R-1 F1, averaged over its references
        return sum(scorer.score(ref, hyp)["rouge1"].fmeasure for ref in refs) / len(refs)

    per_doc = {name: [r1(h, refs) for h, refs in zip(hyps, references)] for name, hyps in texts.items()}
    name_of = lambda a, b: f"extract a={a:g} b={b:g}"  # noqa: E731
    groups = {"teacher": [name_of(*teacher)],
              "teacher or student": [name_of(*teacher), "student"],
              "family (9 settings around the teacher's)": [name_of(a, b) for a, b in family],
              "family or student": [name_of(a, b) for a, b in family] + ["student"],
              f"grid ({len(grid)} settings)": [name_of(a, b) for a, b in grid],
              "grid or student": [name_of(a, b) for a, b in grid] + ["student"]}
    groups = {g: names for g, names in groups.items() if all(n in texts for n in names)}
    keep = ("rouge1", "rouge2", "rougeL", "words")
    result = {"model": args.model, "checkpoint": args.checkpoint, "docs": len(documents), "words": words,
              "teacher": list(teacher), "candidates": {}, "oracle": {}, "consensus": {}}
    for name, hyps in texts.items():
        scores = rouge_scores(hyps, references)
        result["candidates"][name] = {k: scores[k] for k in keep}
    for group, names in groups.items():
        # ties keep the first candidate: the teacher comes first where it is in the group
        picked = [texts[max(names, key=lambda n: per_doc[n][j])][j] for j in range(len(documents))]
        scores = rouge_scores(picked, references)
        result["oracle"][group] = {k: scores[k] for k in keep}
        print(f"{group}: {result['oracle'][group]}", file=sys.stderr)
        if len(names) > 2:  # of two candidates, each agrees with the other alike: no consensus to read
            best = consensus([ids[n] for n in names], (model.vocab.pad_id, model.vocab.eos_id)).tolist()
            picked = [texts[names[k]][j] for j, k in enumerate(best)]
            scores = rouge_scores(picked, references)
            result["consensus"][group] = {k: scores[k] for k in keep}
            print(f"consensus of {group}: {result['consensus'][group]}", file=sys.stderr)
    write_result("family-oracle", result, tag=args.name)
    return 0


def _overlap(a: torch.Tensor, a_keep: torch.Tensor, b: torch.Tensor, b_keep: torch.Tensor) -> torch.Tensor:
    """Clipped matches between the multisets of kept items of each row pair: sum over items t of min(count in a,
    count in b). (N, S) x (N, S') -> (N,), from equality tables (rows are a summary long: small)."""
    same_a = (a[:, :, None] == a[:, None, :]) & a_keep[:, :, None] & a_keep[:, None, :]  # (N, S, S)
    across = (a[:, :, None] == b[:, None, :]) & a_keep[:, :, None] & b_keep[:, None, :]  # (N, S, S')
    own, other = same_a.sum(2).float(), across.sum(2).float()  # per position of a: count of its item in a, in b
    return (torch.minimum(own, other) / own.clamp(min=1)).sum(1)  # each item's min(count) shared by its positions


def consensus(candidates: list[torch.Tensor], skip: tuple[int, ...]) -> torch.Tensor:
    """The candidate of each row that agrees best with the others (minimum Bayes risk): candidates C x (N, S) token
    ids; agreement = the sum over the other candidates of unigram F1 + bigram F1 over token counts, leaving out
    the `skip` tokens (padding, EOS). No reference is read. Returns (N,) indices into candidates (the first on a
    tie)."""
    grams, base = [], max(int(ids.max()) for ids in candidates) + 1  # one bigram numbering for all candidates
    for ids in candidates:
        keep = torch.ones_like(ids, dtype=torch.bool)
        for token in skip:
            keep &= ids != token
        pairs = ids[:, :-1] * base + ids[:, 1:]  # bigram ids
        grams.append(((ids, keep), (pairs, keep[:, :-1] & keep[:, 1:])))
    score = torch.zeros(len(candidates), candidates[0].shape[0], device=candidates[0].device)  # (C, N)
    for i, gi in enumerate(grams):
        for j, gj in enumerate(grams):
            if i == j:
                continue
            for (a, ka), (b, kb) in zip(gi, gj):
                match = _overlap(a, ka, b, kb)
                size = ka.sum(1) + kb.sum(1)
                score[i] += torch.where(match > 0, 2 * match / size.clamp(min=1), torch.zeros_like(match))
    return score.argmax(0)


def token_ids(tok, vocab, texts: list[str], width: int):
    """Summaries as the run's token ids (N, width), padded."""
    from summae.tokenization import encode_texts, pad_ids

    return pad_ids(encode_texts(tok, texts, width - 1)[0], eos_id=vocab.eos_id, pad_id=vocab.pad_id, width=width)


if __name__ == "__main__":
    raise SystemExit(main())
