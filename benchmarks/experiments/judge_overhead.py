"""What train.pseudo_judge=discriminator costs in training time: the same short run without and with it.

    python benchmarks/experiments/judge_overhead.py [--config summae/configs/gigaword-cpu.yaml] [--steps 300]

Each way is a fresh `summae train` process (no evaluation, no checkpoints but the last), run one after the other,
alone on the machine. Reported: the judge's fitting seconds (its own line) and each way's training seconds for the
steps (the trainer's `done:` line, which does not count start-up), so the per-step cost of choosing every
pseudo-summary among the family. Writes benchmarks/results/judge-overhead-<date>-<hardware>-<name>.json.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))


def run(config: str, steps: int, out: Path, extra: list[str]) -> dict:
    argv = [sys.executable, "-m", "summae.cli", "train", "--config", config, "--output-dir", str(out), "--quiet",
            "--set", f"train.steps={steps}", "--set", "train.eval_every=0", "--set", "train.save_every=0"]
    for item in extra:
        argv += ["--set", item]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    proc = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True)
    text = proc.stdout + proc.stderr
    if proc.returncode != 0:
        raise SystemExit(f"summae train failed ({proc.returncode}): {text[-2000:]}")
    done = re.search(r"done: (\d+) steps in (\d+) s", text)
    judge = re.search(r"pseudo-summary judge: .*\((\d+) s\)", text)
    return {"steps": int(done.group(1)), "train_seconds": int(done.group(2)),
            "judge_fit_seconds": int(judge.group(1)) if judge else None}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", default="summae/configs/gigaword-cpu.yaml")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--name", default="gigaword-cpu")
    args = parser.parse_args(argv)
    from throughput import write_result

    with tempfile.TemporaryDirectory() as tmp:
        base = run(args.config, args.steps, Path(tmp) / "base", [])
        judged = run(args.config, args.steps, Path(tmp) / "judge", ["train.pseudo_judge=discriminator"])
    per_step = (judged["train_seconds"] - base["train_seconds"]) / args.steps
    result = {"config": args.config, "without_judge": base, "with_judge": judged,
              "extra_seconds_per_step": round(per_step, 3)}
    print(result, file=sys.stderr)
    write_result("judge-overhead", result, tag=args.name)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
