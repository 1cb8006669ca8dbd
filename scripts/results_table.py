"""Print the README's results table from committed result JSONs; --write README.md puts it in the README.

    python scripts/results_table.py                      # the table, on stdout
    python scripts/results_table.py --write README.md    # replace the table between the results markers
    python scripts/results_table.py --check README.md    # exit 1 if the README's table is not this one

The table is generated, never edited by hand. To show a newer run, change the file names below (they are
in benchmarks/results/) and run the --write command. Standard library only: it runs before any install.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

RESULTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results"
START, END = "<!-- results:start -->", "<!-- results:end -->"

# Which JSON each row comes from. A later session updates these names, nothing else.
DEMO = "demo-runs-20261206-cpu2-recipe-span1.json"  # `summae demo`, the README's first command
READY = "ready-20261206-cpu2.json"  # benchmarks/ready_model.py: the model shipped in the package
GIGAWORD = [  # benchmarks/gigaword.py: the best GPU run; benchmarks/ablations.py: the CPU recipe over 3 seeds
    "gigaword-20261129-h200-gpu.json",
    "ablations-20261206-cpu2-cpu-recipe-3400.json",
]
SPEED = [  # benchmarks/throughput.py: the d256 Gigaword model at fixed shapes, CPU then GPU
    "throughput-20261130-cpu2-session17.json",
    "throughput-20261129-h200-tokenize.json",
]

HARDWARE = {"cpu2": "2 CPU cores", "h200": "1 H200 GPU"}  # the JSONs' `hardware` field, in words


class TableError(Exception):
    """A missing or malformed input; main() prints it as one line and exits with status 2."""


HEADER = ("| set | system | R-1 / R-2 / R-L | words | training docs/s | summarizing docs/s | "
          "from benchmarks/results/ |\n"
          "|---|---|---|---|---|---|---|")


def load(name: str, results: Path) -> dict:
    path = results / name
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TableError(f"{path} does not exist (update the file names at the top of this script)")
    except json.JSONDecodeError as err:
        raise TableError(f"{path} is not valid JSON: {err}")


def hardware(data: dict) -> str:
    name = data.get("hardware", "")
    return HARDWARE.get(name, name or "unrecorded hardware")


def rouge(scores: dict) -> tuple[str, str]:
    """(R-1 / R-2 / R-L, words) cells of one ROUGE record."""
    return f"{scores['rouge1']:.2f} / {scores['rouge2']:.2f} / {scores['rougeL']:.2f}", f"{scores['words']:.1f}"


def row(*cells: str) -> str:
    return "| " + " | ".join(cells) + " |"


def demo_rows(results: Path) -> list[str]:
    data = load(DEMO, results)
    names = {"lead8": "Lead-8", "lead1sent": "first sentence", "prefix75": "first 75 bytes",
             "teacher": "teacher: the extraction search it learns from"}
    if data["benchmark"] == "demo-runs":  # benchmarks/demo_runs.py: several seeds, their mean
        runs = data["runs"]
        where = f"Debian test ({runs[0]['test']['summae']['n']} docs)"
        steps = sorted(r["steps"] for r in runs)
        minutes = max(r["train_seconds"] for r in runs) / 60
        system = (f"`summae demo`, mean of {len(runs)} seeds: {steps[0]}-{steps[-1]} steps in {minutes:.0f} min on "
                  f"{hardware(data)}")

        def mean_row(key):
            return {**{m: v["mean"] for m, v in data["mean"][key].items()}, "words": runs[0]["test"][key]["words"]}
        rows = [row(where, system, *rouge(mean_row("summae")), "", "", DEMO)]
        rows += [row(where, label, *rouge(mean_row(key) if key == "teacher" else data["baselines"][key]), "", "", DEMO)
                 for key, label in names.items()]
    else:
        run = data.get("results_json", data)  # a fresh-clone record wraps the demo's results.json
        test = run["sets"]["test"]
        where = f"Debian test ({test['model']['n']} docs)"
        system = f"`summae demo`: {run['steps']} steps in {run['train_seconds'] / 60:.0f} min on {hardware(data)}"
        rows = [row(where, system, *rouge(test["model"]), "", "", DEMO)]
        rows += [row(where, label, *rouge(test["baselines"][key]), "", "", DEMO) for key, label in names.items()]
    ready = load(READY, results)
    rows.append(row(where, "the ready model shipped in the package", *rouge(ready["test"]["ready"]), "", "", READY))
    return rows


def gigaword_rows(results: Path) -> list[str]:
    rows = []
    for name in GIGAWORD:
        data = load(name, results)
        if data["benchmark"] == "ablations":  # benchmarks/ablations.py: the recipe's arm, mean over its seeds
            rows += ablation_rows(name, data)
            continue
        where, model = f"Gigaword dev ({data['eval_documents']['dev']:,} docs)", data["config"]["model"]
        system = (f"d{model['d_model']} {model['encoder_layers']}+{model['decoder_layers']} layers, "
                  f"{data['steps']} steps in {data['train_seconds'] / 60:.1f} min on {hardware(data)}")
        rows.append(row(where, system, *rouge(data["dev"]), "", "", name))
        if data.get("teacher"):
            rows.append(row(where, "its teacher (the extraction search)", *rouge(data["teacher"]["dev"]), "", "", name))
    first = load(GIGAWORD[0], results)
    where = f"Gigaword dev ({first['eval_documents']['dev']:,} docs)"
    rows.append(row(where, "Lead-8", *rouge(first["baselines"]["dev"]["lead8"]), "", "", GIGAWORD[0]))
    return rows


def ablation_rows(name: str, data: dict) -> list[str]:
    arm_name, arm = next(iter(data["arms"].items()))
    runs, summary = arm["runs"], arm["summary"]
    model, minutes = runs[0]["model"], max(r["train_seconds"] for r in runs) / 60
    where = f"Gigaword dev ({runs[0]['dev_documents']:,} docs)"
    system = (f"d{model['d_model']} {model['encoder_layers']}+{model['decoder_layers']} layers, {arm_name}, mean of "
              f"{len(runs)} seeds: {runs[0]['steps']} steps in <= {minutes:.0f} min on {hardware(runs[0])}")

    def mean(block: dict, words: dict) -> dict:
        return {**{m: v["mean"] for m, v in block.items()}, "words": words["mean"]}
    rows = [row(where, system, *rouge(mean(summary["dev"], summary["dev_words"])), "", "", name)]
    if "teacher_dev" in summary:
        rows.append(row(where, "its teacher (the extraction search)",
                        *rouge(mean(summary["teacher_dev"], summary["teacher_dev_words"])), "", "", name))
    return rows


def speed_rows(results: Path) -> list[str]:
    rows = []
    for name in SPEED:
        data = load(name, results)
        run = data["configs"]["throughput"]
        train_precision = "fp32" if run["mixed_precision"] == "no" else run["mixed_precision"]
        model = run["config"]["model"]
        system = (f"{hardware(data)}: training at batch {run['batch_size']} in {train_precision}, "
                  f"summarizing at batch {run['summarize_batch_size']} in {run['summarize_precision']}")
        rows.append(row(f"speed, d{model['d_model']} Gigaword model", system, "", "",
                        f"{run['train_docs_per_s']:,.1f}", f"{run['summarize_sentences_per_s']:,.1f}", name))
    return rows


def table(results: Path = RESULTS) -> str:
    return "\n".join([HEADER, *demo_rows(results), *gigaword_rows(results), *speed_rows(results)]) + "\n"


def replaced(text: str, block: str, name: str) -> str:
    """`text` with the lines between the START and END marker lines replaced by `block`."""
    lines = text.splitlines(keepends=True)
    marks = [i for i, line in enumerate(lines) if line.strip() in (START, END)]
    if len(marks) != 2 or lines[marks[0]].strip() != START:
        raise TableError(f"{name} needs one line {START} and, after it, one line {END}")
    return "".join(lines[: marks[0] + 1]) + block + "".join(lines[marks[1]:])


def write_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="The README's results table, from benchmarks/results/*.json.")
    parser.add_argument("--results", type=Path, default=RESULTS, help="folder of the result JSONs")
    parser.add_argument("--write", type=Path, metavar="README", help="replace the table between the markers")
    parser.add_argument("--check", type=Path, metavar="README", help="exit 1 if the table there differs")
    args = parser.parse_args(argv)
    try:
        block = table(args.results)
        target = args.write or args.check
        if target is None:
            sys.stdout.write(block)
            return 0
        text = target.read_text(encoding="utf-8")
        new = replaced(text, block, str(target))
    except TableError as err:  # one line, status 2, as the summae commands do
        print(f"results_table: {err}", file=sys.stderr)
        return 2
    except OSError as err:
        print(f"results_table: {err}", file=sys.stderr)
        return 2
    except KeyError as err:  # a JSON without a field a row reads
        print(f"results_table: a result JSON lacks the field {err}", file=sys.stderr)
        return 2
    if args.check:
        if new != text:
            print(f"results_table: the table in {target} is stale: run "
                  f"python scripts/results_table.py --write {target}", file=sys.stderr)
            return 1
        return 0
    if new != text:
        write_atomic(target, new)
    print(f"results_table: {target} holds the table of {len(block.splitlines()) - 2} rows")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
