"""torch's (B, V) operations that summae's CPU decoding avoids, against what it does instead.

    python benchmarks/experiments/cpu_ops.py [--rows 256] [--vocab 8064] [--repeats 30] [--out FILE]

On 2 CPU cores (torch 2.13), some of torch's kernels run as scalar loops at the shapes of a decoding step:
masked_fill, argmax over the last dimension, and bool ops with a row broadcast along the last dimension.
summae.fast.cpu_ops computes the same results another way (apply_mask, first_argmax, outer_and). This times
each pair (median of --repeats calls, no gradient, in one process), checks that the pair agrees, and writes
benchmarks/results/cpu-ops-<YYYYMMDD>-<hardware>.json. Re-run it on a new torch: where torch's own op has
become as fast, summae's way can go.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/, for throughput
import throughput  # noqa: E402  (sys.path, the result writer)


def timed(fn, repeats: int) -> float:
    fn()
    seconds = []
    for _ in range(repeats):
        begin = time.perf_counter()
        fn()
        seconds.append(time.perf_counter() - begin)
    return round(1e3 * statistics.median(seconds), 3)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=256, help="default: summae summarize's CPU batch")
    parser.add_argument("--vocab", type=int, default=8064, help="default: the throughput model's")
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--out")
    args = parser.parse_args(argv)

    import torch

    from summae.decode.rules import apply_mask
    from summae.fast.cpu_ops import first_argmax, outer_and
    from summae.runtime import tune_cpu_allocator

    allocator = tune_cpu_allocator()
    torch.manual_seed(0)
    rows, vocab = args.rows, args.vocab
    scores = torch.rand(rows, vocab)
    forbid = torch.rand(rows, vocab) < 0.3
    ends_word, boundary = torch.rand(rows) < 0.5, torch.rand(vocab) < 0.6
    masked = scores.masked_fill(forbid, float("-inf"))
    pairs = {
        "mask": (lambda: scores.masked_fill(forbid, float("-inf")), lambda: apply_mask(scores, forbid)),
        "argmax": (lambda: masked.argmax(-1), lambda: first_argmax(masked)),
        "outer_and": (lambda: ends_word[:, None] & boundary, lambda: outer_and(ends_word, boundary)),
    }
    results = {}
    with torch.inference_mode():
        for name, (torch_way, summae_way) in pairs.items():
            same = torch.equal(torch_way(), summae_way())
            torch_ms, summae_ms = timed(torch_way, args.repeats), timed(summae_way, args.repeats)
            results[name] = {"torch_ms": torch_ms, "summae_ms": summae_ms,
                             "speedup": round(torch_ms / summae_ms, 2), "equal": same}
            print(f"{name}: torch {torch_ms} ms, summae {summae_ms} ms, equal {same}", file=sys.stderr)
        results["reference"] = {"amax_ms": timed(lambda: masked.amax(-1), args.repeats),
                                "same_shape_bool_or_ms": timed(lambda: forbid | forbid, args.repeats),
                                "softmax_ms": timed(lambda: scores.softmax(-1), args.repeats)}
    throughput.write_result("cpu-ops", {"rows": rows, "vocab": vocab, "repeats": args.repeats,
                                        "threads": torch.get_num_threads(), "allocator": allocator,
                                        "ops": results}, out=args.out)
    return 0 if all(r.get("equal", True) for r in results.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
