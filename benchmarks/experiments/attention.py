"""One decoding step's attention on CPU: SDPA against two batched matmuls, at summarizing's shapes.

    python benchmarks/experiments/attention.py [--batch 256] [--heads 4] [--head-dim 64] [--keys 12 49]
        [--iters 50] [--out FILE]

A summary is written one token at a time, so every attention call has one query per row: (B, H, 1, dh)
against T keys (T <= 12 in the self-attention, the document's length in the cross-attention). Times, per
dtype and T, `F.scaled_dot_product_attention` (with and without a padding mask) and the matmul form that
summae.fast.static_cache uses for bf16 on CPU (q @ K^T, softmax, @ V, in fp32 over fp32 keys and values).
Writes benchmarks/results/attention-<YYYYMMDD>-<hardware>.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))

import throughput  # noqa: E402  (sets HF_*_OFFLINE and sys.path like every benchmark)


def timed_ms(fn, iters: int) -> float:
    for _ in range(5):
        fn()
    begin = time.perf_counter()
    for _ in range(iters):
        fn()
    return round((time.perf_counter() - begin) / iters * 1e3, 3)


def measure(batch: int, heads: int, head_dim: int, keys: int, dtype, iters: int) -> dict:
    import torch
    import torch.nn.functional as F

    gen = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(batch, heads, n, head_dim, generator=gen).to(dtype) for n in (1, keys, keys))
    mask = torch.zeros(batch, 1, 1, keys, dtype=dtype)
    mask[: batch // 2, ..., keys - keys // 4:] = float("-inf")  # half the rows padded by a quarter
    k32, v32, mask32 = k.float().contiguous(), v.float().contiguous(), mask.float()
    scale = head_dim ** -0.5

    def matmul_form():
        scores = torch.matmul(q.float(), k32.transpose(-1, -2)).mul_(scale).add_(mask32)
        return torch.matmul(scores.softmax(-1), v32).to(dtype)

    return {"sdpa_masked_ms": timed_ms(lambda: F.scaled_dot_product_attention(q, k, v, attn_mask=mask), iters),
            "sdpa_ms": timed_ms(lambda: F.scaled_dot_product_attention(q, k, v), iters),
            "matmul_fp32_ms": timed_ms(matmul_form, iters)}


def main(argv=None) -> int:
    import torch

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--head-dim", type=int, default=64)
    parser.add_argument("--keys", type=int, nargs="+", default=[12, 49])
    parser.add_argument("--iters", type=int, default=50)
    parser.add_argument("--out")
    args = parser.parse_args(argv)
    rows = []
    for dtype in (torch.bfloat16, torch.float32):
        for keys in args.keys:
            row = {"dtype": str(dtype).removeprefix("torch."), "keys": keys,
                   **measure(args.batch, args.heads, args.head_dim, keys, dtype, args.iters)}
            row["sdpa_masked_over_matmul"] = round(row["sdpa_masked_ms"] / row["matmul_fp32_ms"], 2)
            print(json.dumps(row), file=sys.stderr)
            rows.append(row)
    throughput.write_result("attention", {
        "shape": {"batch": args.batch, "heads": args.heads, "head_dim": args.head_dim, "queries": 1},
        "iters": args.iters, "rows": rows}, out=args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
