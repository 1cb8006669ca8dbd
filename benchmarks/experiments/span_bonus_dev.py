"""Does summary.span_bonus (greedy decoding favours the word that follows, in the document, the word just written)
close the student's R-2 gap to its teacher? Scored on DEV references only: this is where the setting is chosen.

Each model summarizes the dev documents at its default length with every bonus in --bonuses (the same weights,
only the decoding changes; the summaries in document order when the model's config says so, as `summae
summarize` writes them), and the table gives ROUGE F1 against the dev references, the word-order score and the
share of consecutive summary words that are also consecutive in the document. With --teacher, also ROUGE F1 of the
summaries against the model's own teacher (the extraction search, rebuilt as benchmarks/own_corpus.py does): the
reference-free view a rule for choosing the bonus could use.

    python benchmarks/experiments/span_bonus_dev.py --dev /work/debian_dev.jsonl --text-field document \
        --name debian /work/demoruns/demo-seed0 /work/demoruns/demo-seed1
    python benchmarks/experiments/span_bonus_dev.py --gigaword --name gigaword \
        runs/gigaword-cpu-full-copy-adv01-500/best

A run directory means its best/ checkpoint.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from throughput import write_result  # noqa: E402

from summae.eval.bottleneck import word_order_score  # noqa: E402
from summae.eval.rouge import rouge_scores  # noqa: E402
from summae.io import read_lines, read_texts  # noqa: E402
from summae.summarize import Summarizer  # noqa: E402


def contiguous_share(summaries: list[str], documents: list[str]) -> float:
    """Share of consecutive summary word pairs (a, b) that stand side by side somewhere in the document."""
    hits = total = 0
    for summary, document in zip(summaries, documents):
        words = document.split()
        pairs = set(zip(words, words[1:]))
        s = summary.split()
        total += max(0, len(s) - 1)
        hits += sum((a, b) in pairs for a, b in zip(s, s[1:]))
    return round(100 * hits / max(1, total), 2)


def teacher_texts(model_dir: Path, docs: list[str]) -> list[str]:
    """The model's teacher (its extraction search at its own settings) on docs, at the model's default length."""
    from own_corpus import build_extractor

    from summae.model.build import load_for_inference
    from summae.pipeline import teacher_summaries

    cfg, tokenizer, model = load_for_inference(model_dir)
    extractor = build_extractor(cfg, tokenizer, model.vocab)
    return teacher_summaries(extractor, tokenizer, model.vocab, cfg.model, docs, cfg.summary.default_words)


def load_dev(args) -> tuple[list[str], list[list[str]]]:
    if args.gigaword:
        data = Path(args.data)
        docs = read_lines(str(data / "dev.article.txt"))[: args.limit]
        refs = [[r] for r in read_lines(str(data / "dev.title.txt"))[: args.limit]]
        return docs, refs
    docs = read_texts(args.dev, field=args.text_field)[: args.limit]
    refs = [[r] for r in read_texts(args.dev, field=args.summary_field)[: args.limit]]
    return docs, refs


def dev_arguments(description: str) -> argparse.ArgumentParser:
    """The models and the dev set (a jsonl of pairs, or Gigaword dev) that load_dev reads."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("models", nargs="+", help="checkpoints, or run directories (their best/)")
    p.add_argument("--dev", help="jsonl with documents and references (dev only)")
    p.add_argument("--text-field", default="document")
    p.add_argument("--summary-field", default="summary")
    p.add_argument("--gigaword", action="store_true", help="Gigaword dev: dev.article.txt / dev.title.txt")
    p.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "gigaword"))
    p.add_argument("--limit", type=int, default=4000, help="first N dev documents (default 4000)")
    return p


def main(argv=None) -> int:
    p = dev_arguments(__doc__.split("\n\n")[0])
    p.add_argument("--bonuses", default="0,0.5,1,1.5,2,3")
    p.add_argument("--name", required=True)
    p.add_argument("--teacher", action="store_true", help="also score agreement with each model's teacher")
    args = p.parse_args(argv)
    docs, refs = load_dev(args)
    bonuses = [float(b) for b in args.bonuses.split(",")]
    table: dict = {}
    for model_path in args.models:
        path = Path(model_path)
        if (path / "best").is_dir():
            path = path / "best"
        summarizer = Summarizer.from_pretrained(path, device="cpu", precision="auto")  # as summae summarize
        teacher = teacher_texts(path, docs) if args.teacher else None
        rows = {}
        for bonus in bonuses:
            summarizer.model.rules.span_bonus = bonus
            begin = time.perf_counter()
            summaries = summarizer(docs)
            seconds = time.perf_counter() - begin
            scores = rouge_scores(summaries, refs)
            rows[str(bonus)] = {**scores, "word_order": word_order_score(summaries, docs),
                                "contiguous_pairs": contiguous_share(summaries, docs),
                                "docs_per_s": round(len(docs) / seconds, 1)}
            if teacher is not None:
                agree = rouge_scores(summaries, [[t] for t in teacher])
                rows[str(bonus)]["teacher_agreement"] = {k: agree[k] for k in ("rouge1", "rouge2", "rougeL")}
                print(f"  teacher agreement {agree['rouge1']} / {agree['rouge2']} / {agree['rougeL']}", flush=True)
            print(f"{model_path} bonus {bonus}: {scores['rouge1']} / {scores['rouge2']} / {scores['rougeL']} "
                  f"({scores['words']} words), contiguous {rows[str(bonus)]['contiguous_pairs']}%", flush=True)
        table[model_path] = rows
    mean = {str(b): {m: round(statistics.fmean(table[k][str(b)][m] for k in table), 2)
                     for m in ("rouge1", "rouge2", "rougeL", "contiguous_pairs")} for b in bonuses}
    if args.teacher:
        for b in bonuses:
            mean[str(b)]["teacher_agreement"] = {
                m: round(statistics.fmean(table[k][str(b)]["teacher_agreement"][m] for k in table), 2)
                for m in ("rouge1", "rouge2", "rougeL")}
    write_result("span-bonus-dev", {"command": "python benchmarks/experiments/span_bonus_dev.py "
                                    + " ".join(sys.argv[1:] if argv is None else argv),
                                    "documents": len(docs), "models": table, "mean": mean}, tag=args.name)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
