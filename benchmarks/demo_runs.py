"""`summae demo` over several seeds, one after another, and the table of their test scores with the mean.

    python benchmarks/demo_runs.py --seeds 0 1 2 --name recipe

Each seed runs `summae demo --set train.seed=S --output-dir <work>/demo-seedS --quiet` exactly as a user would
(the demo's time budget, its reference-free best/), then its results.json is read. The runs must have the machine
to themselves: the demo plans its phases from timed steps, and anything running beside them shrinks the plan.
Writes benchmarks/results/demo-runs-<date>-<hardware>-<name>.json: every run's test table (summae, teacher and
the baselines), its steps and best step, and the mean and range of summae's and the teacher's rows.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from throughput import write_result  # noqa: E402

METRICS = ("rouge1", "rouge2", "rougeL")


def run_demo(seed: int, out: Path, extra: list[str]) -> dict:
    if out.exists():
        shutil.rmtree(out)
    cmd = ["summae", "demo", "--set", f"train.seed={seed}", "--output-dir", str(out), "--quiet", *extra]
    print(" ".join(cmd), file=sys.stderr, flush=True)
    subprocess.run(cmd, check=True)
    return json.loads((out / "results.json").read_text(encoding="utf-8"))


def summary_of(runs: list[dict], row: str) -> dict:
    scores = {m: [r["sets"]["test"]["baselines"][row][m] for r in runs] for m in METRICS}
    return {m: {"mean": round(statistics.fmean(v), 2), "min": min(v), "max": max(v)} for m, v in scores.items()}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--name", required=True, help="tag of the result file")
    p.add_argument("--work-dir", help="where the runs go (default: a temporary folder, removed after)")
    p.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="passed on to summae demo")
    args = p.parse_args(argv)
    extra = [x for s in args.set for x in ("--set", s)]
    work = Path(args.work_dir) if args.work_dir else Path(tempfile.mkdtemp(prefix="summae-demo-runs-"))
    runs = []
    for seed in args.seeds:
        res = run_demo(seed, work / f"demo-seed{seed}", extra)
        runs.append(res)
        test = res["sets"]["test"]["baselines"]
        print(f"seed {seed}: summae " + " / ".join(f"{test['summae'][m]:.2f}" for m in METRICS)
              + f" (best step {res['best_step']} of {res['steps']})", file=sys.stderr, flush=True)
    fields = {
        "command": "python benchmarks/demo_runs.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "seeds": args.seeds,
        "runs": [{"seed": s, "steps": r["steps"], "best_step": r["best_step"], "train_seconds": r["train_seconds"],
                  "test": r["sets"]["test"]["baselines"]} for s, r in zip(args.seeds, runs)],
        "mean": {row: summary_of(runs, row) for row in ("summae", "teacher")},
        "baselines": {row: v for row, v in runs[0]["sets"]["test"]["baselines"].items()
                      if row not in ("summae", "teacher")},
    }
    write_result("demo-runs", fields, tag=args.name)
    if not args.work_dir:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
