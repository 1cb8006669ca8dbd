"""Where the time goes: torch.profiler over training steps and one summarizing pass of the throughput model.

    python benchmarks/experiments/profile_steps.py [--device cpu|cuda] [--out-dir DIR] [--steps N] [--sentences N]
        [--batch-size B] [--data-dir DIR] [--set k=v ...]

Builds the model of summae/configs/throughput.yaml as benchmarks/throughput.py does (same batches, same main-phase
training step), runs --warmup untimed training steps, then profiles --steps training steps and one pass of
the Summarizer's default decoding over --sentences dev sentences (after a warm-up pass). Writes to --out-dir:
profile.json (wall times, operator and kernel-launch counts per step, the time split of summarizing into
tokenizing, the model and detokenizing), and the profiler's tables (train_*.txt, summarize_*.txt: the top
operators by self CPU time and, on CUDA, by self device time). On the GPU, host time per step far above
device time means the step is bound by Python and kernel launches, not by the arithmetic.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/, for throughput
import throughput  # noqa: E402  (benchmarks/throughput.py: the same model, batches and timing helpers)


def parse_args(argv):
    parser = throughput.model_arguments(__doc__.split("\n")[0])
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--steps", type=int, default=3, help="profiled training steps")
    parser.add_argument("--sentences", type=int, default=None, help="default: one batch (2048 cuda, 256 cpu)")
    parser.add_argument("--out-dir", default="profile-out")
    args = parser.parse_args(argv)
    if args.steps < 1 or args.warmup < 0:
        parser.error("--steps must be >= 1 and --warmup >= 0")
    return args


def tables(prof, cuda: bool, name: str, out_dir: Path, rows: int = 40) -> dict:
    """The profiler's tables to out_dir/<name>_*.txt; returns totals of host and device time, op counts."""
    averages = prof.key_averages()
    (out_dir / f"{name}_by_cpu.txt").write_text(
        averages.table(sort_by="self_cpu_time_total", row_limit=rows), encoding="utf-8")
    events = list(averages)
    totals = {"ops": sum(e.count for e in events if not e.key.startswith(("cuda", "cudaLaunch"))),
              "self_cpu_ms": round(sum(e.self_cpu_time_total for e in events) / 1e3, 2)}
    if cuda:
        key = "self_device_time_total" if hasattr(events[0], "self_device_time_total") else "self_cuda_time_total"
        (out_dir / f"{name}_by_device.txt").write_text(averages.table(sort_by=key, row_limit=rows), encoding="utf-8")
        totals["self_device_ms"] = round(sum(getattr(e, key) for e in events) / 1e3, 2)
        totals["kernel_launches"] = sum(e.count for e in events if e.key in ("cudaLaunchKernel", "cuLaunchKernel",
                                                                             "cudaLaunchKernelExC"))
    return totals


def main(argv=None) -> int:
    args = parse_args(argv)
    import torch
    from torch.profiler import ProfilerActivity, profile

    from summae.tokenization import encode_texts
    from summae.cli import quiet_libraries
    from summae.summarize import Summarizer, default_batch_size

    quiet_libraries()
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    cuda = device == "cuda"
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    clock = throughput.Clock(device)
    args.iters = args.steps  # build_trainer reads the throughput script's arguments
    with tempfile.TemporaryDirectory(prefix="summae-profile-") as run_dir:
        cfg, trainer = throughput.build_trainer(args, device, run_dir)
        model, acc, t = trainer.accelerator.unwrap_model(trainer.model), trainer.accelerator, cfg.train
        docs = trainer.batches.iterate(0)
        batches = [next(docs).to(acc.device) for _ in range(args.warmup + args.steps)]
        reals = trainer.real_batches.iterate(0) if trainer.real_batches is not None else None
        gen = torch.Generator().manual_seed(t.seed)
        for i, batch in enumerate(batches[: args.warmup]):
            trainer.train_step(t.pretrain_steps + i, batch, reals, gen)
        begin = clock()
        with profile(activities=activities) as prof:
            for i, batch in enumerate(batches[args.warmup:]):
                trainer.train_step(t.pretrain_steps + args.warmup + i, batch, reals, gen)
            clock()
        profiled_ms = 1e3 * (clock() - begin) / args.steps
        train = {"steps": args.steps, "batch_size": t.batch_size, "wall_ms_per_step_profiled": round(profiled_ms, 2),
                 **{k: round(v / args.steps, 2) for k, v in tables(prof, cuda, "train", out_dir).items()}}
        seconds = []  # unprofiled steps, for the profiler's own overhead
        for i, batch in enumerate(batches[args.warmup:]):
            start = clock()
            trainer.train_step(t.pretrain_steps + 100 + i, batch, reals, gen)
            seconds.append(clock() - start)
        train["wall_ms_per_step"] = round(1e3 * statistics.median(seconds), 2)

        bs = args.batch_size or default_batch_size(device)
        n = args.sentences or bs
        texts = throughput.dev_sentences(cfg, n)
        import copy

        summarizer = Summarizer(cfg, trainer.tokenizer, copy.deepcopy(model), device=device, precision="auto")
        summarizer(texts, batch_size=bs)  # warm-up pass: every width once
        begin = clock()
        summarizer(texts, batch_size=bs)
        whole = clock() - begin
        begin = time.perf_counter()
        ids, _ = encode_texts(trainer.tokenizer, texts, cfg.model.max_source_tokens - 1)
        encode_s = time.perf_counter() - begin
        begin = time.perf_counter()
        trainer.tokenizer.batch_decode([x[:10] for x in ids], skip_special_tokens=True)
        decode_s = time.perf_counter() - begin
        begin = clock()
        with profile(activities=activities) as prof:
            summarizer(texts, batch_size=bs)
            clock()
        profiled = clock() - begin
        summarize = {"sentences": n, "batch_size": bs, "precision": summarizer.precision,
                     "sentences_per_s": round(n / whole, 1), "wall_ms": round(1e3 * whole, 2),
                     "wall_ms_profiled": round(1e3 * profiled, 2), "encode_texts_ms": round(1e3 * encode_s, 2),
                     "batch_decode_ms": round(1e3 * decode_s, 2),
                     **tables(prof, cuda, "summarize", out_dir)}
    fields = {"train_step": train, "summarize": summarize, "config": cfg.to_dict()}
    path = throughput.write_result("profile", fields, out=str(out_dir / "profile.json"), device=device)
    print(json.dumps({"train_step": {k: v for k, v in train.items()}, "summarize": summarize}), flush=True)
    return 0 if path.exists() else 1


if __name__ == "__main__":
    raise SystemExit(main())
