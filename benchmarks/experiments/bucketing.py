"""Length-bucketed batches (train.bucket_batches) against plain shuffled batches: training speed over whole windows.

    python benchmarks/experiments/bucketing.py [--device cpu|cuda] [--bucket 32] [--rounds 2] [--out FILE]

The model and the data are those of summae/configs/throughput.yaml (batch 64 on CPU, 2048 on GPU). One trainer is
built; its id matrix is served two ways: padded to 48 tokens in shuffled order (bucket 0), and in windows of
`--bucket` batches sorted by length, each batch cut to its longest row. Each round times one whole window of
main-phase training steps (write, D step, G step) with each, alternating, so both see the same spread of
lengths and the same machine period; the first round is also where every new shape is met once. Reports
documents/s per round and over all rounds, and the padding share of the batches. Writes
benchmarks/results/bucketing-<YYYYMMDD>-<hardware>.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))

import throughput  # noqa: E402  (sets HF_*_OFFLINE and sys.path like every benchmark)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", choices=["cpu", "cuda"], default=None, help="default: cuda if available")
    parser.add_argument("--data-dir", default=None, help="folder holding gigaword/ (default ../shared/data)")
    parser.add_argument("--bucket", type=int, default=32, help="batches per length-sorted window, >= 2")
    parser.add_argument("--rounds", type=int, default=2, help="timed windows per way, >= 1")
    parser.add_argument("--out", help="result JSON (default benchmarks/results/bucketing-DATE-HW.json)")
    args = parser.parse_args(argv)
    if args.bucket < 2 or args.rounds < 1:
        parser.error("--bucket must be >= 2 and --rounds >= 1")
    import torch

    from summae.train.batches import TensorBatches

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    targs = throughput.parse_args(["--device", device] + (["--data-dir", args.data_dir] if args.data_dir else [])
                                  + ["--set", "train.bucket_batches=0"])
    clock = throughput.Clock(device)
    with tempfile.TemporaryDirectory(prefix="summae-bucketing-") as out_dir:
        cfg, trainer = throughput.build_trainer(targs, device, out_dir)
        t, acc = cfg.train, trainer.accelerator
        pad = trainer.vocab.pad_id
        matrix = trainer.batches.ids
        ways = {"shuffled": TensorBatches(matrix, t.batch_size, seed=t.seed),
                "bucketed": TensorBatches(matrix, t.batch_size, seed=t.seed, pad_id=pad, bucket=args.bucket)}
        reals = trainer.real_batches.iterate(0)
        gen = torch.Generator().manual_seed(t.seed)
        step0 = t.pretrain_steps
        trainer.train_step(step0, ways["shuffled"].batch(10_000).to(acc.device), reals, gen)  # warm-up (untimed)
        rounds = {name: [] for name in ways}
        for r in range(args.rounds):
            steps = range(r * args.bucket, (r + 1) * args.bucket)  # one whole sorting window
            for name, batches in ways.items():
                cells = [batches.batch(s) for s in steps]
                step = lambda i, b: trainer.train_step(step0 + i, b.to(acc.device), reals, gen)  # noqa: E731
                seconds = throughput.timed_steps(step, cells, warmup=0, clock=clock)
                real = sum(int((b != pad).sum()) for b in cells)
                padded = sum(b.numel() for b in cells)
                rounds[name].append({"docs_per_s": round(len(cells) * t.batch_size / sum(seconds), 1),
                                     "seconds": round(sum(seconds), 2),
                                     "mean_width": round(padded / len(cells) / t.batch_size, 2),
                                     "pad_share": round(1 - real / padded, 3)})
                print(name, r, rounds[name][-1], file=sys.stderr, flush=True)
    total = {name: round(args.rounds * args.bucket * t.batch_size / sum(x["seconds"] for x in rs), 1)
             for name, rs in rounds.items()}
    speedup = round(total["bucketed"] / total["shuffled"], 3)
    print(json.dumps({"docs_per_s": total, "speedup": speedup}))
    throughput.write_result("bucketing", {
        "load_average": throughput.load_average(), "device": device, "batch_size": t.batch_size,
        "bucket_batches": args.bucket, "rounds": rounds, "docs_per_s": total, "speedup": speedup,
        "config": "summae/configs/throughput.yaml (main-phase training steps)"}, out=args.out, device=device)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
