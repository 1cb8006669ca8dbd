"""Does training's resident memory stay bounded? The tuned allocator (summae/runtime.py) keeps freed memory in the
process; batches cut to their longest document change shape at every step, so without `release_free_memory` the
kept memory fragments and grows (a 30-minute run on 512-token docstrings reached 24 GB and was killed).

    python benchmarks/experiments/heap_growth.py --name docstrings [--steps 400] -- \
        --train-files /work/docstrings/docs.jsonl --text-field body --real-files /work/docstrings/titles.txt

Everything after `--` is `summae train`'s own flags. Each way is a fresh process (the allocator is a setting of the
whole process), tuned as the CLI tunes it, training --steps steps from scratch (three quarters pretraining, then
auto-encoding; no teacher search, no time plan, one evaluation at the end): "release" as summae trains, "kept"
with release_free_memory and release_if_grown turned into no-ops everywhere the trainer calls them. The resident
set is sampled every 0.5 s. Reports the peak and final resident memory and the training seconds of each way.
Writes benchmarks/results/heap-growth-<date>-<hardware>-<name>.json.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

WAYS = ("release", "kept")


def child(way: str, steps: int, out_dir: str, train_argv: list[str]) -> dict:
    """One way, in this process: train, sampling the resident set; returns the measures."""
    from summae import runtime
    from summae.cli import build_parser
    from summae.commands import train_config
    from summae.train import keeper, timeplan, trainer

    runtime.tune_cpu_allocator()
    if way == "kept":
        for module in (trainer, keeper, timeplan):
            module.release_free_memory = lambda: False
        trainer.release_if_grown = lambda: False
    sets = {"train.steps": steps, "train.minutes": "null", "train.pretrain_share": "null",
            "train.pretrain_steps": steps * 3 // 4, "train.teacher_search": "false", "train.eval_every": steps}
    flags = [x for key, value in sets.items() for x in ("--set", f"{key}={value}")]
    args = build_parser().parse_args(["train", *train_argv, *flags, "--output-dir", out_dir])
    samples, done = [], threading.Event()

    def sample():
        while not done.is_set():
            samples.append(runtime.resident_mib())
            time.sleep(0.5)

    watcher = threading.Thread(target=sample, daemon=True)
    run = trainer.Trainer(train_config(args), Path(out_dir), device="cpu", echo=lambda m: None, progress=False)
    watcher.start()
    began = time.perf_counter()
    run.train()
    seconds = time.perf_counter() - began
    done.set()
    watcher.join()
    return {"way": way, "allocator": runtime.allocator_state(), "steps": steps, "train_seconds": round(seconds, 1),
            "peak_rss_mib": round(max(samples)), "final_rss_mib": round(samples[-1]),
            "rss_mib_every_10_s": [round(s) for s in samples[::20]]}


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    ours, train_argv = (argv[: argv.index("--")], argv[argv.index("--") + 1:]) if "--" in argv else (argv, [])
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--name", required=True)
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--child", choices=WAYS, help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    args = parser.parse_args(ours)
    if args.child:
        with tempfile.TemporaryDirectory(prefix="summae-heap-") as out_dir:
            result = child(args.child, args.steps, out_dir, train_argv)
        Path(args.result).write_text(json.dumps(result), encoding="utf-8")
        return 0

    from throughput import write_result

    ways = []
    with tempfile.TemporaryDirectory(prefix="summae-heap-") as tmp:
        for way in WAYS:
            result = Path(tmp) / f"{way}.json"
            subprocess.run([sys.executable, __file__, "--name", args.name, "--steps", str(args.steps), "--child", way,
                            "--result", str(result), "--", *train_argv], check=True)
            ways.append(json.loads(result.read_text(encoding="utf-8")))
            print(f"{way}: peak {ways[-1]['peak_rss_mib']} MiB, final {ways[-1]['final_rss_mib']} MiB, "
                  f"{ways[-1]['train_seconds']} s", file=sys.stderr, flush=True)
    write_result("heap-growth", {"command": ["benchmarks/experiments/heap_growth.py", *argv], "ways": ways},
                 tag=args.name)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
