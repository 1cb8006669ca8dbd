"""The auto-encoder issue's ablation table: arms of benchmarks/gigaword.py runs over seeds, mean and range.

    python benchmarks/ablations.py --name long \\
        --arm recipe=gigaword-20261206-cpu2-cpu-full-copy-adv01-long.json,...-s1.json,...-s2.json \\
        --arm distill-only=gigaword-20261206-cpu2-cpu-distill-copy-long.json,...

Each --arm is NAME=JSON,JSON,... (result files of benchmarks/gigaword.py, by name in benchmarks/results/ or by
path), one per seed. The first arm is the recipe; every later arm is compared with it (and --compare A,B adds
A minus B), seed by seed where both ran the seed. Per arm: dev ROUGE of best/ and of last/ (the final
checkpoint), DUC-2003 R-1 of best/, the teacher's rows, best_step against the pretraining steps, the
headline-LM perplexity of the summaries, and the reconstruction and word-order measures. Writes
benchmarks/results/ablations-<date>-<hardware>-<name>.json and prints the table in Markdown. Reads JSONs only:
nothing is trained.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from throughput import write_result  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
METRICS = ("rouge1", "rouge2", "rougeL")


class AblationError(Exception):
    """A missing or malformed input; main() prints it as one line and exits with status 2."""


def load(name: str) -> dict:
    path = Path(name) if Path(name).exists() else RESULTS / name
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise AblationError(f"{name}: no such file here or in {RESULTS}")
    except json.JSONDecodeError as err:
        raise AblationError(f"{path} is not valid JSON: {err}")
    if data.get("benchmark") != "gigaword":
        raise AblationError(f"{path} is not a benchmarks/gigaword.py result")
    return data


def spread(values: list[float]) -> dict:
    return {"mean": round(statistics.fmean(values), 4), "min": min(values), "max": max(values),
            "n": len(values)}


def run_record(name: str, data: dict) -> dict:
    """The fields of one run that the table reads; a field the run's JSON lacks is None."""
    ae = data.get("autoencoder") or {}
    read = (data.get("readability") or {}).get("dev", {}).get("summae") or {}
    return {
        "file": Path(name).name, "seed": data["seed"], "commit": data["commit"], "hardware": data["hardware"],
        "model": {k: data["config"]["model"][k] for k in ("d_model", "encoder_layers", "decoder_layers")},
        "steps": data["steps"],
        "pretrain_steps": data["config"]["train"]["pretrain_steps"],
        "eval_every": data["config"]["train"]["eval_every"],
        "best_step": data["best_step"],
        "train_seconds": data["train_seconds"], "discriminator": data["discriminator"],
        "dev": {m: data["dev"][m] for m in METRICS},
        "dev_last": {m: data["dev_last"][m] for m in METRICS} if data.get("dev_last") else None,
        "dev_documents": data["eval_documents"]["dev"], "dev_words": data["dev"]["words"],
        "teacher_dev_words": (data.get("teacher") or {}).get("dev", {}).get("words"),
        "duc2003_rouge1": data["duc2003"]["rouge1"] if data.get("duc2003") else None,
        "teacher_dev": {m: data["teacher"]["dev"][m] for m in METRICS} if data.get("teacher") else None,
        "teacher_duc2003_rouge1": (data.get("teacher") or {}).get("duc2003", {}).get("rouge1"),
        "lm_ppl": read.get("lm_ppl"),
        "reconstruction_nll": ae.get("reconstruction_nll"),
        "reconstruction_rouge1": ae.get("reconstruction_rouge1"),
        "summary_rouge1": ae.get("summary_rouge1"), "padded_summary_rouge1": ae.get("padded_summary_rouge1"),
        "word_order": ae.get("word_order"),
    }


def arm_summary(runs: list[dict]) -> dict:
    """Mean and range over an arm's seeds of every measure all its runs have."""
    out = {}
    for key in ("dev", "dev_last", "teacher_dev"):
        if all(r[key] for r in runs):
            out[key] = {m: spread([r[key][m] for r in runs]) for m in METRICS}
    for key in ("dev_words", "teacher_dev_words", "duc2003_rouge1", "teacher_duc2003_rouge1", "lm_ppl",
                "reconstruction_nll", "reconstruction_rouge1", "summary_rouge1", "padded_summary_rouge1",
                "word_order", "train_seconds"):
        if all(r[key] is not None for r in runs):
            out[key] = spread([r[key] for r in runs])
    # the test: best/ is an auto-encoding checkpoint, at least one evaluation past pretraining
    out["best_after_pretraining"] = sum(r["best_step"] >= r["pretrain_steps"] + r["eval_every"] for r in runs)
    return out


def against(name: str, first: list[dict], other_name: str, other: list[dict]) -> dict:
    """One arm minus another, mean over the seeds both ran, for best/ and for last/."""
    pairs = [(r, o) for r in first for o in other if r["seed"] == o["seed"]]
    out = {"arm": name, "minus": other_name, "seeds": [r["seed"] for r, _ in pairs]}
    for key in ("dev", "dev_last"):
        if pairs and all(r[key] and o[key] for r, o in pairs):
            out[key] = {m: spread([round(r[key][m] - o[key][m], 2) for r, o in pairs]) for m in METRICS}
    return out


def cell(s: dict | None, digits: int = 2) -> str:
    return "-" if not s else f"{s['mean']:.{digits}f} ({s['min']:.{digits}f} to {s['max']:.{digits}f})"


def rouge_cell(block: dict | None) -> str:
    return "-" if not block else " / ".join(f"{block[m]['mean']:.2f}" for m in METRICS) + \
        f" (R-1 {block['rouge1']['min']:.2f} to {block['rouge1']['max']:.2f})"


def markdown(arms: dict, differences: list[dict]) -> str:
    lines = ["| arm | seeds | best/ dev R-1 / R-2 / R-L | last/ dev R-1 / R-2 / R-L | DUC R-1 (best/) | "
             "best/ after pretraining | LM ppl | rec. NLL | rec. R-1 vs doc (summary / padded) | word order |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for name, arm in arms.items():
        s, seeds = arm["summary"], ",".join(str(r["seed"]) for r in arm["runs"])
        rec = "-" if "reconstruction_rouge1" not in s else (
            f"{s['reconstruction_rouge1']['mean']:.2f} ({s['summary_rouge1']['mean']:.2f} / "
            f"{s['padded_summary_rouge1']['mean']:.2f})")
        lines.append(f"| {name} | {seeds} | {rouge_cell(s.get('dev'))} | {rouge_cell(s.get('dev_last'))} | "
                     f"{cell(s.get('duc2003_rouge1'))} | {s['best_after_pretraining']} of {len(arm['runs'])} | "
                     f"{cell(s.get('lm_ppl'), 0)} | {cell(s.get('reconstruction_nll'))} | {rec} | "
                     f"{cell(s.get('word_order'), 4)} |")
    first = next(iter(arms.values()))
    if first["summary"].get("teacher_dev"):
        lines.append(f"| teacher (of the recipe's runs) | | {rouge_cell(first['summary']['teacher_dev'])} | | "
                     f"{cell(first['summary'].get('teacher_duc2003_rouge1'))} | | | | | |")
    for diff in differences:
        for key, label in (("dev", "best/"), ("dev_last", "last/")):
            if key in diff:
                lines.append(f"\n{diff['arm']} - {diff['minus']}, {label}, seeds {diff['seeds']}: " + ", ".join(
                    f"{m} {cell(diff[key][m])}" for m in METRICS))
    return "\n".join(lines) + "\n"


def parse_arm(text: str) -> tuple[str, list[str]]:
    name, sep, files = text.partition("=")
    names = [f for f in files.split(",") if f]
    if not sep or not name or not names:
        raise AblationError(f"--arm {text!r}: expected NAME=FILE.json,FILE.json,...")
    return name, names


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--arm", action="append", required=True, metavar="NAME=JSON,...",
                   help="an arm and its runs, one per seed; the first arm is the recipe")
    p.add_argument("--compare", action="append", default=[], metavar="ARM,ARM",
                   help="also report the first arm minus the second (always: the recipe minus each other arm)")
    p.add_argument("--name", required=True, help="tag of the result file")
    p.add_argument("--out", help="result JSON path (default benchmarks/results/ablations-DATE-HW-NAME.json)")
    args = p.parse_args(argv)
    try:
        arms = {}
        for text in args.arm:
            name, files = parse_arm(text)
            if name in arms:
                raise AblationError(f"--arm {name} given twice")
            runs = [run_record(f, load(f)) for f in files]
            if len({r["seed"] for r in runs}) != len(runs):
                raise AblationError(f"--arm {name}: two runs with the same seed")
            arms[name] = {"runs": runs, "summary": arm_summary(runs)}
        recipe = next(iter(arms))
        pairs = [(recipe, name) for name in list(arms)[1:]]
        for text in args.compare:
            pair = tuple(text.split(","))
            if len(pair) != 2 or not set(pair) <= set(arms):
                raise AblationError(f"--compare {text!r}: expected two arm names, from {', '.join(arms)}")
            pairs.append(pair)
        differences = [against(a, arms[a]["runs"], b, arms[b]["runs"]) for a, b in pairs]
    except AblationError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyError as err:
        print(f"error: a result JSON lacks the field {err}", file=sys.stderr)
        return 2
    table = markdown(arms, differences)
    sys.stdout.write(table)
    command = "python benchmarks/ablations.py " + " ".join(sys.argv[1:] if argv is None else argv)
    write_result("ablations", {"command": command, "arms": arms, "differences": differences, "table": table},
                 out=args.out, tag=args.name)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
