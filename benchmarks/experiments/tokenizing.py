"""Tokenizing and detokenizing: transformers' calls vs the Rust tokenizer read directly (summae.tokenization).

    python benchmarks/experiments/tokenizing.py [--sentences N] [--rounds N] [--data-dir DIR] [--out FILE]

Trains the throughput benchmark's tokenizer (SentencePiece unigram, 8000 pieces, on the first 20,000
Gigaword training articles), then times, alternately for --rounds rounds, on N dev sentences:
`tokenizer(texts, add_special_tokens=False)["input_ids"]` against `summae.tokenization.encode_texts`, and
`tokenizer.batch_decode(ids, skip_special_tokens=True)` against `summae.tokenization.decode_texts` on 12-token
prefixes of those ids (summary-sized), and padding the ids into a (N, 48) tensor: Python lists into
torch.tensor (pad_ids until 2026-11-30) against `summae.tokenization.pad_ids`. Checks that both ways agree. Reports
microseconds
per sentence (medians) with all of the machine's cores, as `summae summarize` runs. Writes
benchmarks/results/tokenizing-<YYYYMMDD>-<hardware>.json.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))

import throughput  # noqa: E402  (sets HF_*_OFFLINE and sys.path like every benchmark)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sentences", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--data-dir", default=None, help="folder holding gigaword/ (default ../shared/data)")
    parser.add_argument("--out")
    args = parser.parse_args(argv)
    if args.sentences < 1 or args.rounds < 1:
        parser.error("--sentences and --rounds must be >= 1")

    import torch

    from summae.tokenization import CHARS_PER_TOKEN_BOUND, decode_texts, encode_texts, pad_ids
    from summae.io import read_lines
    from summae.tokenization import train_sentencepiece

    data = Path(args.data_dir).resolve() if args.data_dir else ROOT.parent / "shared" / "data"
    articles = read_lines(data / "gigaword" / "train.article.txt")[:20000]
    tokenizer = train_sentencepiece(articles, vocab_size=8000, max_words=13)
    dev = read_lines(data / "gigaword" / "dev.article.txt")
    texts = (dev * (args.sentences // len(dev) + 1))[: args.sentences]
    limit = 47  # summae/configs/throughput.yaml: max_source_tokens 48, less the EOS

    def call():
        clipped = [t[: limit * CHARS_PER_TOKEN_BOUND] for t in texts]
        return [x[:limit] for x in tokenizer(clipped, add_special_tokens=False)["input_ids"]]

    def direct():
        return encode_texts(tokenizer, texts, limit)[0]

    ids = direct()
    assert ids == call(), "encode_texts and the transformers call disagree"
    short = [x[:12] for x in ids]
    assert decode_texts(tokenizer, short) == tokenizer.batch_decode(short, skip_special_tokens=True)

    def pad_lists():  # pad_ids before 2026-11-30: padded Python lists into torch.tensor
        return torch.tensor([row[:limit] + [1] + [0] * (limit - len(row[:limit])) for row in ids], dtype=torch.long)

    assert torch.equal(pad_lists(), pad_ids(ids, eos_id=1, pad_id=0, width=limit + 1))
    ways = {"encode_call": call, "encode_rust": direct,
            "decode_call": lambda: tokenizer.batch_decode(short, skip_special_tokens=True),
            "decode_rust": lambda: decode_texts(tokenizer, short),
            "pad_lists": pad_lists, "pad_numpy": lambda: pad_ids(ids, eos_id=1, pad_id=0, width=limit + 1)}
    times = {k: [] for k in ways}
    for r in range(args.rounds + 1):  # round 0 warms up
        for name, fn in ways.items():
            begin = time.perf_counter()
            fn()
            if r:
                times[name].append(time.perf_counter() - begin)
    us = {k: round(1e6 * statistics.median(v) / len(texts), 2) for k, v in times.items()}
    result = {"sentences": len(texts), "rounds": args.rounds, "tokenizer": "SentencePiece unigram, 8000 pieces",
              "us_per_sentence": us,
              "encode_speedup": round(us["encode_call"] / us["encode_rust"], 3),
              "decode_speedup": round(us["decode_call"] / us["decode_rust"], 3),
              "pad_speedup": round(us["pad_lists"] / us["pad_numpy"], 3),
              "same_ids_and_texts": True}
    print(result, file=sys.stderr)
    throughput.write_result("tokenizing", result, out=args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
