"""Which occurrence of a repeated word should summary.document_order use? Scored on DEV references only.

Each model summarizes the dev documents once, greedily, with its own settings but without reordering; the same
summaries are then scored as written, reordered by the rule before 2026-12-06 (every word at its first
occurrence, where the word less case and punctuation could take the place of an exact later match: "The the
references ..."), by that rule with exact matches first, and by summae.decode.rules.document_order (the k-th copy
at the k-th occurrence, then next to another summary word where the document allows). R-1 cannot move.

    python benchmarks/experiments/document_order_variants.py --dev /work/debian_dev.jsonl --text-field document \\
        --name debian /work/demoruns-span1/demo-seed0 /work/demoruns-span1/demo-seed1
    python benchmarks/experiments/document_order_variants.py --gigaword --name gigaword \\
        runs/gigaword-cpu-full-copy-adv01-s2-500
"""

import os
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "benchmarks" / "experiments"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from span_bonus_dev import dev_arguments, load_dev  # noqa: E402
from throughput import write_result  # noqa: E402

from summae.decode.rules import bare_word, document_order  # noqa: E402
from summae.eval.bottleneck import word_order_score  # noqa: E402
from summae.eval.rouge import rouge_scores  # noqa: E402
from summae.summarize import Summarizer  # noqa: E402


def first_occurrence(summary: str, document: str, *, exact_first: bool = False) -> str:
    """The rule before 2026-12-06: each word at its first occurrence; one dictionary of exact and bare words (a
    bare "the" from "The" shadows a later exact "the"), or, with exact_first, exact matches looked up first."""
    exact, bare = {}, {}
    for i, word in enumerate(document.split()):
        exact.setdefault(word, i)
        (exact if not exact_first else bare).setdefault(bare_word(word), i)
    keyed, last = [], -1.0
    for j, word in enumerate(summary.split()):
        at = exact.get(word, bare.get(bare_word(word), exact.get(bare_word(word))))
        at = last + 0.5 if at is None else at
        keyed.append((at, j, word))
        last = at
    return " ".join(word for _, _, word in sorted(keyed))


VARIANTS = {
    "as_written": lambda s, d: s,
    "first_occurrence": first_occurrence,
    "first_occurrence_exact_first": lambda s, d: first_occurrence(s, d, exact_first=True),
    "document_order": document_order,
}


def main(argv=None) -> int:
    p = dev_arguments(__doc__.split("\n\n")[0])
    p.add_argument("--name", required=True)
    args = p.parse_args(argv)
    docs, refs = load_dev(args)
    table: dict = {}
    for model_path in args.models:
        path = Path(model_path)
        if (path / "best").is_dir():
            path = path / "best"
        summarizer = Summarizer.from_pretrained(path, device="cpu", precision="auto")
        summarizer.cfg.summary.document_order = False
        written = summarizer(docs)
        table[model_path] = {}
        for name, rule in VARIANTS.items():
            texts = [rule(s, d) for s, d in zip(written, docs)]
            scores = rouge_scores(texts, refs)
            table[model_path][name] = {**{k: scores[k] for k in ("rouge1", "rouge2", "rougeL")},
                                       "word_order": word_order_score(texts, docs)}
            print(f"{model_path} {name}: {scores['rouge1']} / {scores['rouge2']} / {scores['rougeL']}", flush=True)
    mean = {name: {k: round(statistics.fmean(table[m][name][k] for m in table), 2)
                   for k in ("rouge1", "rouge2", "rougeL", "word_order")} for name in VARIANTS}
    for name, row in mean.items():
        print(f"mean {name}: {row}")
    write_result("document-order-variants", {"command": "python benchmarks/experiments/document_order_variants.py "
                                             + " ".join(sys.argv[1:] if argv is None else argv),
                                             "documents": len(docs), "models": table, "mean": mean}, tag=args.name)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
