"""Two greedy-decoding ideas for the student's R-2 / R-L gap to its teacher, screened on DEV references only.

- `start`: the teacher's extractions begin at the document's first word far more often than the student's
  summaries, so the span bonus (summary.span_bonus) is also given to the document's first word until the summary
  has copied a document word ("the document's own phrase starts at its beginning").
- `fusion`: shallow fusion of a token bigram LM of the model's real short texts (summae.train.fluency.BigramPrior,
  the fluency prior's LM) into each greedy step: scores + lambda x log P_LM(token | previous token).

Both are patched into the decoder here, for the screen only (neither is a summae option). Each model summarizes
the dev documents at its default length, with the patch off and on, and the table gives ROUGE F1 against the dev
references. Fusion runs the plain (non-static) decoding path, whose scores are log-probabilities; its lambda 0 row
is the baseline.

    python benchmarks/experiments/decoding_screens.py --dev /work/debian_dev.jsonl --text-field document \
        --limit 1000 --name debian /work/demoruns-span1/demo-seed0 /work/demoruns-span1/demo-seed1 \
        /work/demoruns-span1/demo-seed2
"""

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from span_bonus_dev import dev_arguments, load_dev  # noqa: E402

from throughput import write_result  # noqa: E402

import summae.decode.greedy as greedy  # noqa: E402
from summae.eval.rouge import rouge_scores  # noqa: E402
from summae.io import read_texts, resolve_files  # noqa: E402
from summae.model.build import load_for_inference  # noqa: E402
from summae.summarize import Summarizer  # noqa: E402
from summae.tokenization import encode_texts  # noqa: E402
from summae.train.fluency import BigramPrior  # noqa: E402

PLAIN_FOLLOWERS = greedy.span_followers


def followers_from_the_start(ends, doc, word_start):
    """span_followers, plus the document's first word while nothing of the document has been copied yet."""
    out = PLAIN_FOLLOWERS(ends, doc, word_start)
    fresh = ~ends.any(1)  # (B,)
    first = torch.zeros_like(out)
    first[torch.arange(doc.shape[0]), doc[:, 0]] = True
    return out | (first & fresh[:, None] & word_start[None, :])


def real_text_lm(path: Path, model) -> torch.Tensor:
    """log P(b | a) (V, V) of the run's real short texts, with its tokenizer."""
    cfg, tokenizer, _ = load_for_inference(path)
    files = resolve_files([cfg.resolve_path(f) for f in cfg.data.real_files])
    texts = [t for f in files for t in read_texts(f, field=cfg.data.real_field)]
    ids, _ = encode_texts(tokenizer, texts, cfg.model.max_summary_tokens)
    return BigramPrior(ids, vocab_size=model.rules.word_start.shape[0], eos_id=model.vocab.eos_id).log_probs


def main(argv=None) -> int:
    p = dev_arguments(__doc__.split("\n\n")[0])
    p.add_argument("--name", required=True)
    p.add_argument("--start-bonuses", default="1,2", help="span bonuses for the `start` screen")
    p.add_argument("--lambdas", default="0,0.1,0.2,0.4", help="LM weights for the `fusion` screen")
    args = p.parse_args(argv)
    docs, refs = load_dev(args)
    table = {}
    for model_path in args.models:
        path = Path(model_path) / "best" if (Path(model_path) / "best").is_dir() else Path(model_path)
        summarizer = Summarizer.from_pretrained(path, device="cpu", precision="auto")
        model, rows = summarizer.model, {}
        for bonus in [float(b) for b in args.start_bonuses.split(",")]:
            model.rules.span_bonus = bonus
            for mode, followers in (("plain", PLAIN_FOLLOWERS), ("start", followers_from_the_start)):
                greedy.span_followers = followers
                summaries = summarizer(docs)
                starts = sum(bool(s) and s.split()[0].lower() == d.split()[0].lower() for s, d in zip(summaries, docs))
                rows[f"{mode} bonus {bonus:g}"] = {**rouge_scores(summaries, refs), "starts_at_first_word": starts}
                print(model_path, mode, bonus, rows[f"{mode} bonus {bonus:g}"], flush=True)
        greedy.span_followers = PLAIN_FOLLOWERS
        model.rules.span_bonus = load_for_inference(path)[0].summary.span_bonus
        lm, start_id, plain_scores = real_text_lm(path, model), model.vocab.start_id, type(model).compressor_scores
        weight = [0.0]

        def fused(self, enc, comp_mask, comp_ids, dec_in, **cache_args):
            scores, out = plain_scores(self, enc, comp_mask, comp_ids, dec_in, **cache_args)
            prev = dec_in[:, -1]
            prev = torch.where(prev == start_id, self.vocab.eos_id, prev)  # the start of a text: EOS as context
            scores = scores.clone()
            scores[:, -1] = scores[:, -1] + weight[0] * lm[prev].to(scores.dtype)
            return scores, out

        fast_enabled, greedy.fast.enabled = greedy.fast.enabled, lambda: False  # the log-probability path
        type(model).compressor_scores = fused
        try:
            for value in [float(v) for v in args.lambdas.split(",")]:
                weight[0] = value
                rows[f"fusion lambda {value:g}"] = rouge_scores(summarizer(docs), refs)
                print(model_path, "fusion", value, rows[f"fusion lambda {value:g}"], flush=True)
        finally:
            type(model).compressor_scores, greedy.fast.enabled = plain_scores, fast_enabled
        table[model_path] = rows
    write_result("decoding-screens", {"command": "python benchmarks/experiments/decoding_screens.py "
                                      + " ".join(sys.argv[1:] if argv is None else argv),
                                      "documents": len(docs), "models": table}, tag=args.name)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
