"""Summaries of the longest held-out documents of a corpus, by a trained model: is the whole document read?

    python benchmarks/long_samples.py --model runs/docstrings --test /work/docstrings/test.jsonl --text-field body \
        --name docstrings [--n 10] [--words N]

Takes the N test documents with the most tokens under the model's tokenizer, summarizes them with `summae
summarize`'s default decoding (or --words), and writes benchmarks/results/long-samples-<DATE>-<HW>-<NAME>.json:
each document's token count, whether it was cut at model.max_source_tokens, its summary, its reference, and
the position in the document of each summary word's first occurrence (a summary drawn only from the opening
sentence would show positions near 0).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")


def word_positions(summary: str, document: str) -> list[int | None]:
    """For each summary word, the index of its first occurrence among the document's words (None: not there)."""
    from summae.decode.rules import bare_word

    first: dict[str, int] = {}
    for i, word in enumerate(document.split()):
        first.setdefault(bare_word(word), i)
    return [first.get(bare_word(w)) for w in summary.split()]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True, help="a run directory or checkpoint")
    parser.add_argument("--test", required=True, help="held-out pairs, jsonl")
    parser.add_argument("--text-field", default="body")
    parser.add_argument("--summary-field", default="summary")
    parser.add_argument("--name", required=True)
    parser.add_argument("--n", type=int, default=10)
    parser.add_argument("--words", type=int, help="summary length (default: the model's summary.default_words)")
    args = parser.parse_args(argv)

    from gigaword import hardware
    from summae import Summarizer
    from summae.cli import quiet_libraries
    from summae.io import read_texts
    from throughput import commit

    quiet_libraries()
    documents = read_texts(args.test, field=args.text_field)
    references = read_texts(args.test, field=args.summary_field)
    summarizer = Summarizer.from_pretrained(args.model, device="cpu")
    limit = summarizer.cfg.model.max_source_tokens - 1  # + EOS
    lengths = [len(ids) for ids in summarizer.tokenizer(documents, add_special_tokens=False)["input_ids"]]
    longest = sorted(range(len(documents)), key=lambda i: -lengths[i])[: args.n]
    summaries = summarizer([documents[i] for i in longest], words=args.words)
    samples = [{"tokens": lengths[i], "cut": lengths[i] > limit, "document_words": len(documents[i].split()),
                "document": documents[i], "summary": s, "reference": references[i],
                "summary_word_positions": word_positions(s, documents[i])} for i, s in zip(longest, summaries)]
    hw, detail = hardware("cpu")
    result = {"benchmark": "long_samples", "name": args.name, "command": ["benchmarks/long_samples.py", *(
        sys.argv[1:] if argv is None else argv)], "commit": commit(), "date": dt.date.today().isoformat(),
        "hardware": hw, "model": str(args.model), "max_source_tokens": limit + 1, "samples": samples}
    out = ROOT / "benchmarks" / "results" / f"long-samples-{dt.date.today():%Y%m%d}-{hw}-{args.name}.json"
    out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    for s in samples:
        print(f"[{s['tokens']} tokens{', cut' if s['cut'] else ''}] {s['document'][:100]}...\n"
              f"  -> {s['summary']}\n  reference: {s['reference']}\n  positions: {s['summary_word_positions']}")
    print(f"wrote {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
