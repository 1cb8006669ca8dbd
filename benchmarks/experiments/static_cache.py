"""summae's static KV cache (summae/fast/static_cache.py) against transformers' own decoding caches, paired.

    python benchmarks/experiments/static_cache.py [--model DIR] [--sentences 512] [--batch-size 256] [--rounds 7]
        [--out FILE]

Greedy summaries of dev sentences by the same model (default: the ready model) three ways, alternated round by
round so that load from other processes hits all alike: summae's StaticDecoder (the default fast path),
transformers' incremental decoding with its DynamicCache (the reference path), and the same with transformers'
StaticCache (self-attention) in an EncoderDecoderCache. All three must write the same summaries. Prints the
median seconds and the paired ratios (median over rounds of other / ours) as JSON; --out writes them with the
commit and hardware. A library cache within 5% of ours would replace it (issue: "use the library's piece").
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=None, help="a run or checkpoint directory (default: the ready model)")
    parser.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--sentences", type=int, default=512)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--out")
    args = parser.parse_args(argv)

    import torch
    from transformers import DynamicCache, EncoderDecoderCache, StaticCache

    from summae import READY_MODEL
    from summae.decode import greedy
    from summae.io import read_lines
    from summae.model.build import load_for_inference
    from summae.runtime import tune_cpu_allocator
    from summae.tokenization import encode_texts, pad_ids
    from throughput import write_result

    tune_cpu_allocator()
    cfg, tok, model = load_for_inference(args.model or READY_MODEL)
    vocab, m = model.vocab, cfg.model
    texts = read_lines(str(Path(args.data_dir) / "gigaword" / "dev.article.txt"))[: args.sentences]
    ids, _ = encode_texts(tok, texts, m.max_source_tokens - 1)
    docs = pad_ids(ids, eos_id=vocab.eos_id, pad_id=vocab.pad_id, width=m.max_source_tokens)
    batches = []
    for rows in torch.split(docs, args.batch_size):
        target = torch.full((rows.shape[0],), cfg.summary.default_words)
        batches.append((*model.compressor_inputs(rows, rows != vocab.pad_id, target), target))

    from summae import fast

    def ours():
        fast.STATIC_CACHE = True
        try:
            return [model.write_summary(c, mk, t) for c, mk, t in batches]
        finally:
            fast.STATIC_CACHE = False

    def library(static: bool):
        def run():
            model.fast_decoding = False  # the reference loop: transformers' incremental decoding
            kwarg = greedy.cache_kwarg(model.compressor)
            out = []
            try:
                for c, mk, t in batches:
                    if static:  # transformers' StaticCache for self-attention, a DynamicCache for cross-attention
                        cache = EncoderDecoderCache(StaticCache(config=model.compressor.config,
                                                                max_cache_len=model.max_summary_tokens + 1),
                                                    DynamicCache())
                        original = model.compressor_scores

                        def first_call(*a, _cache=cache, **kw):
                            if kw.get(kwarg) is None:
                                kw[kwarg] = _cache
                            return original(*a, **kw)
                        model.compressor_scores = first_call
                    try:
                        out.append(model.write_summary(c, mk, t))
                    finally:
                        if static:
                            del model.compressor_scores
            finally:
                model.fast_decoding = True
            return out
        return run

    ways = {"summae_static": ours, "transformers_dynamic": library(False), "transformers_static": library(True)}
    reference = None
    times: dict[str, list[float]] = {k: [] for k in ways}
    with torch.no_grad():
        for r in range(args.rounds + 1):
            for name, fn in ways.items():
                begin = time.perf_counter()
                out = torch.cat(fn())
                elapsed = time.perf_counter() - begin
                reference = out if reference is None else reference
                assert torch.equal(out, reference), f"{name} wrote other summaries"
                if r:  # round 0 warms up
                    times[name].append(elapsed)
            print(f"round {r}: " + ", ".join(f"{k} {v[-1]:.3f}" for k, v in times.items() if v), file=sys.stderr)
    result = {"model": str(args.model or "ready"), "sentences": len(texts), "batch_size": args.batch_size,
              "rounds": args.rounds, "median_s": {k: round(statistics.median(v), 4) for k, v in times.items()},
              "same_summaries": True}
    ours_s = times["summae_static"]
    result.update({f"{name}_over_ours_paired": round(statistics.median(o / s for o, s in zip(times[name], ours_s)), 3)
                   for name in ("transformers_dynamic", "transformers_static")})
    if args.out:  # the JSON with commit and hardware, then the numbers on stdout
        write_result("static_cache", result, out=args.out)
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
