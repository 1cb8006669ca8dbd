"""How close summae's CPU work runs to what this machine's matrix products allow.

    python benchmarks/experiments/roofline.py [--throughput FILE] [--repeats 20] [--out FILE]

Times torch's matrix products (the kind of work that is ~95% of the model FLOPs of every step) at the
shapes the throughput model multiplies (summae/configs/throughput.yaml: d_model 256, FFN 1024, vocabulary 8064)
and at one large square shape (the machine's best case), in fp32 (training on the CPU) and bf16
(summarizing on the CPU), and reports GFLOP/s (median of --repeats). With --throughput it sets beside them
the model FLOP rates that throughput JSON measured (`model_tflops_per_s`; for summarizing the formula counts
padded widths and all 12 steps, so that rate is an upper bound). A step that runs at the rate of its own
matrix products has little speed left to gain from faster code: only fewer FLOPs or a cheaper number format
would help.

Writes benchmarks/results/roofline-<YYYYMMDD>-<hardware>.json. Rates from two runs compare only when the
machine was in the same state: this VM's speed drifts by 10-15% within minutes.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/, for throughput
import throughput  # noqa: E402  (sys.path, the result writer)

# (rows, in, out): the Linear layers and output heads of the throughput model's steps
SHAPES = {
    "train: encoder/decoder FFN in (64 x 48 tokens, 256 -> 1024)": (3072, 256, 1024),
    "train: encoder/decoder FFN out (3072, 1024 -> 256)": (3072, 1024, 256),
    "train: attention projection (3072, 256 -> 256)": (3072, 256, 256),
    "train: reconstructor head (2231 labelled tokens, 256 -> 8064)": (2231, 256, 8064),
    "train: one decoding step's FFN in (64 rows, 256 -> 1024)": (64, 256, 1024),
    "train: one decoding step's head (64 rows, 256 -> 8064)": (64, 256, 8064),
    "summarize: encoder FFN in (256 x 37 tokens, 256 -> 1024)": (9472, 256, 1024),
    "summarize: encoder FFN out (9472, 1024 -> 256)": (9472, 1024, 256),
    "summarize: one decoding step's FFN in (256 rows, 256 -> 1024)": (256, 256, 1024),
    "summarize: one decoding step's head (256 rows, 256 -> 8064)": (256, 256, 8064),
    "square (2048, 2048 -> 2048)": (2048, 2048, 2048),
}


def gflops(rows: int, n_in: int, n_out: int, dtype, repeats: int) -> float:
    """GFLOP/s of F.linear (x @ W.T + b, as nn.Linear) at this shape: median of `repeats` after 3 warm-ups."""
    import torch
    import torch.nn.functional as F

    x, w, b = (torch.randn(rows, n_in, dtype=dtype), torch.randn(n_out, n_in, dtype=dtype),
               torch.randn(n_out, dtype=dtype))
    with torch.inference_mode():
        for _ in range(3):
            F.linear(x, w, b)
        seconds = []
        for _ in range(repeats):
            begin = time.perf_counter()
            F.linear(x, w, b)
            seconds.append(time.perf_counter() - begin)
    return round(2 * rows * n_in * n_out / statistics.median(seconds) / 1e9, 1)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--throughput", help="a throughput JSON of this machine (its model_tflops_per_s)")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--out")
    args = parser.parse_args(argv)

    import torch

    from summae.runtime import tune_cpu_allocator

    allocator = tune_cpu_allocator()
    torch.manual_seed(0)
    rates = {}
    for name, shape in SHAPES.items():
        rates[name] = {"shape": list(shape), "fp32_gflops": gflops(*shape, torch.float32, args.repeats),
                       "bf16_gflops": gflops(*shape, torch.bfloat16, args.repeats)}
        print(f"{name}: fp32 {rates[name]['fp32_gflops']}, bf16 {rates[name]['bf16_gflops']} GFLOP/s",
              file=sys.stderr)
    fields = {"threads": torch.get_num_threads(), "allocator": allocator, "repeats": args.repeats,
              "matmul_gflops": rates}
    if args.throughput:
        measured = json.loads(Path(args.throughput).read_text(encoding="utf-8"))
        per_s = measured["configs"]["throughput"]["model_tflops_per_s"]
        fields["throughput_json"] = {"file": Path(args.throughput).name, "commit": measured["commit"],
                                     "model_gflops": {k: round(1e3 * x, 1) for k, x in per_s.items() if x}}
    throughput.write_result("roofline", fields, out=args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
