"""Which reference-free rule for best/ keeps the checkpoint the references would? A table over checkpoint-choice runs.

Reads benchmarks/checkpoint_choice.py's JSONs (every evaluation's logged reference-free measures, its --test
scores, and its --dev scores when the run had --dev) and, when given, dl_checkpoints.py's JSONs (the description
length of each snapshot). For each rule, the step it keeps and that step's R-1; the gap to the best step by dev
references (where the run has them: choose a rule on these) and by test references (report only).

Rules:
- agreement: the highest teacher agreement (dev/teacher_r1; the trainer's rule today)
- last: the last evaluation
- guard-D: the latest evaluation whose teacher agreement is within D points of the best so far (the auto-encoding
  phase may move the student off its teacher, a little)
- description: the shortest description length (dl_checkpoints.py)

    python benchmarks/experiments/criteria_table.py benchmarks/results/checkpoint-choice-20261205-cpu2-debian-adv*.json
"""

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from summae.train.keeper import replaces_best  # noqa: E402

GUARDS = (0.5, 1.0, 2.0, 3.0)


def guard_step(rows: list[dict], slack: float) -> int:
    """The step the trainer keeps with train.agreement_slack = slack (its own rule, replaces_best), replayed
    over the logged evaluations."""
    top, kept = None, None
    for row in rows:
        if replaces_best(row["teacher_r1"], top, slack):
            kept = row["step"]
        top = row["teacher_r1"] if top is None else max(top, row["teacher_r1"])
    return kept


def rules(rows: list[dict], dl: dict | None) -> dict:
    out = {"agreement": max(rows, key=lambda r: r["teacher_r1"])["step"], "last": rows[-1]["step"]}
    for g in GUARDS:
        out[f"guard-{g:g}"] = guard_step(rows, g)
    if dl:
        out["description"] = min(dl["evaluations"], key=lambda r: r["description_nats"])["step"]
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("choices", nargs="+", help="checkpoint-choice JSONs")
    p.add_argument("--dl", nargs="*", default=[], help="dl-checkpoints JSONs (matched to a choice by its run)")
    p.add_argument("--out", help="write the table as JSON here too")
    args = p.parse_args(argv)
    dls = {}
    for path in args.dl:
        d = json.loads(Path(path).read_text())
        dls[Path(d["run"]).name] = d
    table, gaps = [], {}
    for path in args.choices:
        c = json.loads(Path(path).read_text())
        rows = sorted(c["evaluations"], key=lambda r: r["step"])
        by_step = {r["step"]: r for r in rows}
        has_dev = "devrefs_rouge1" in rows[0]
        best_test = max(r["test_rouge1"] for r in rows)
        best_dev = max(r["devrefs_rouge1"] for r in rows) if has_dev else None
        kept = rules(rows, dls.get(Path(c["run"]).name))
        entry = {"name": c["name"], "best_test_rouge1": best_test, "best_dev_rouge1": best_dev, "rules": {}}
        for rule, step in kept.items():
            r = by_step[step]
            e = {"step": step, "test_rouge1": r["test_rouge1"], "test_gap": round(best_test - r["test_rouge1"], 2)}
            if has_dev:
                e.update(dev_rouge1=r["devrefs_rouge1"], dev_gap=round(best_dev - r["devrefs_rouge1"], 2))
            entry["rules"][rule] = e
            gaps.setdefault(rule, []).append(e)
        table.append(entry)
    print("gap to the best step by references, R-1 (dev | test), per run; worst and mean over runs")
    names = [e["name"] for e in table]
    print(f"{'rule':12} " + " ".join(f"{n[-22:]:>24}" for n in names) + "   worst dev/test   mean dev/test")
    for rule, es in gaps.items():
        cells = [f"{(e.get('dev_gap', float('nan'))):5.2f} | {e['test_gap']:5.2f} @{e['step']:<5}" for e in es]
        dev = [e["dev_gap"] for e in es if "dev_gap" in e]
        test = [e["test_gap"] for e in es]
        worst = f"{max(dev) if dev else float('nan'):.2f} / {max(test):.2f}"
        mean = f"{sum(dev) / len(dev) if dev else float('nan'):.2f} / {sum(test) / len(test):.2f}"
        print(f"{rule:12} " + " ".join(f"{c:>24}" for c in cells) + f"   {worst:>14}   {mean:>13}")
    if args.out:
        Path(args.out).write_text(json.dumps({"command": " ".join(sys.argv), "runs": table}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
