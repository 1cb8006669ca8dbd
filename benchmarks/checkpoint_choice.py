"""Does the reference-free choice of best/ track quality? Train as `summae train` would, keep a copy of the weights
at every evaluation, then score each copy on held-out pairs: the step best/ kept beside the best step by references.

    python benchmarks/checkpoint_choice.py --test summae/data/debian/test.jsonl --text-field document \
        --name debian -- --config demo
    python benchmarks/checkpoint_choice.py --test /work/docstrings/test.jsonl --name docstrings -- \
        --train-files /work/docstrings/docs.jsonl --text-field body --real-files /work/docstrings/titles.txt \
        --minutes 30

Everything after `--` is `summae train`'s own flags (the same config, the same time plan). The references are read
only after training, to score the copies (in memory: training never waits on them, so the time plan is the
run's own). Also reported: the step each other reference-free criterion would have kept (teacher agreement, the
older -(reconstruction NLL + D penalty)). Writes benchmarks/results/checkpoint-choice-<DATE>-<HW>-<NAME>.json.
--dev PAIRS scores every copy on a second set too (a dev set, e.g. `scripts/prepare_debian.py --dev-out`): the step
its references prefer is reported with its --test score, so a setting can be chosen on dev and reported on test.
--save-snapshots writes each copy to RUN/snapshots/step-N.safetensors, for criteria scored after the run.
The run directory (--output-dir after `--`, default runs/<name>) is a normal run: benchmarks/own_corpus.py
scores its best/ beside the baselines.
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

CRITERIA = {  # reference-free scores an evaluation logs, higher is better
    "teacher agreement (dev/teacher_r1)": lambda r: r.get("dev/teacher_r1"),
    "-(rec_nll + d_penalty)": lambda r: -(r["dev/rec_nll"] + r["dev/d_penalty"]),
}


def train_with_snapshots(train_argv: list[str]):
    """Run `summae train train_argv`, copying the model's weights at each evaluation: (trainer, {step: weights})."""
    from summae.cli import build_parser
    from summae.commands import train_config
    from summae.train.trainer import Trainer

    args = build_parser().parse_args(["train", *train_argv])
    cfg = train_config(args)
    out = Path(args.output_dir or Path("runs") / cfg.name)
    trainer = Trainer(cfg, out, resume=args.resume, device=args.device, echo=lambda m: print(m, file=sys.stderr),
                      progress=False)
    snapshots = {}
    evaluate = trainer._evaluate

    def evaluate_and_keep(step, logger, *more):
        result = evaluate(step, logger, *more)
        # the weights that evaluation scored and best/ would keep: the weight average with train.ema_decay
        snapshots[step] = copy.deepcopy(trainer._kept().state_dict())  # ~11 MB for the demo's size
        return result

    trainer._evaluate = evaluate_and_keep
    trainer.train()
    return trainer, out, snapshots


def score_snapshots(trainer, snapshots: dict, documents: list[str], references: list[str]) -> dict:
    """{step: ROUGE of that step's greedy summaries at the default length}, as `summae summarize` writes them."""
    from summae.train.dev_eval import DevSet, evaluate_dev

    test = DevSet.build(documents, references, trainer.tokenizer, trainer.vocab, trainer.cfg)
    model = trainer._kept()
    scores = {}
    for step, weights in sorted(snapshots.items()):
        model.load_state_dict(weights)
        result = evaluate_dev(model, None, test)
        scores[step] = {k: result[k] for k in ("rouge1", "rouge2", "rougeL", "words")}
    return scores


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    ours, train_argv = (argv[: argv.index("--")], argv[argv.index("--") + 1:]) if "--" in argv else (argv, [])
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--test", required=True, help="held-out pairs, jsonl")
    parser.add_argument("--text-field", default="body", help="the documents' field in --test")
    parser.add_argument("--summary-field", default="summary", help="the references' field in --test")
    parser.add_argument("--name", required=True, help="the corpus's name, in the result file name")
    parser.add_argument("--dev", help="more held-out pairs (jsonl, the same fields): a dev set to choose on")
    parser.add_argument("--save-snapshots", action="store_true", help="write RUN/snapshots/step-N.safetensors")
    parser.add_argument("--out", help="result JSON (default benchmarks/results/checkpoint-choice-DATE-HW-NAME.json)")
    args = parser.parse_args(ours)

    from gigaword import hardware
    from summae.cli import quiet_libraries
    from summae.io import read_texts
    from summae.runtime import allocator_state, tune_cpu_allocator
    from throughput import commit

    quiet_libraries()
    tune_cpu_allocator()  # as `summae train` does at start-up (summae/runtime.py)
    documents = read_texts(args.test, field=args.text_field)
    references = read_texts(args.test, field=args.summary_field)
    if args.dev:
        dev_documents = read_texts(args.dev, field=args.text_field)
        dev_references = read_texts(args.dev, field=args.summary_field)
    trainer, out, snapshots = train_with_snapshots(train_argv)
    if args.save_snapshots:
        from safetensors.torch import save_file
        (out / "snapshots").mkdir(exist_ok=True)
        for step, weights in snapshots.items():
            save_file({k: v.clone() for k, v in weights.items()}, str(out / "snapshots" / f"step-{step}.safetensors"))
    scores = score_snapshots(trainer, snapshots, documents, references)
    dev_scores = score_snapshots(trainer, snapshots, dev_documents, dev_references) if args.dev else {}
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text(encoding="utf-8").splitlines()]
    logged = {r["step"]: r for r in rows if "dev/score" in r}
    table = [{"step": step, **{k.removeprefix("dev/"): v for k, v in logged[step].items() if k.startswith("dev/")},
              **{f"test_{k}": v for k, v in s.items()},
              **{f"devrefs_{k}": v for k, v in dev_scores.get(step, {}).items()}} for step, s in scores.items()]
    by_refs = max(scores, key=lambda step: scores[step]["rouge1"])
    kept = trainer.state["best_step"]
    others = {}
    for name, score in CRITERIA.items():
        valued = {step: score(logged[step]) for step in scores if score(logged[step]) is not None}
        if valued:
            step = max(valued, key=valued.get)
            others[name] = {"step": step, "test_rouge1": scores[step]["rouge1"]}
    hw, detail = hardware("cpu")
    t = trainer.cfg.train
    result = {"benchmark": "checkpoint_choice", "name": args.name,
              "command": ["benchmarks/checkpoint_choice.py", *argv], "commit": commit(),
              "date": dt.date.today().isoformat(), "hardware": hw, "hardware_detail": detail,
              "run": str(out), "test": str(args.test), "documents": len(documents), "allocator": allocator_state(),
              "criterion": trainer.dev.criterion, "pretrain_steps": t.pretrain_steps, "steps": t.steps,
              "train_seconds": trainer.state["train_seconds"],
              "kept": {"step": kept, "test_rouge1": scores[kept]["rouge1"]},
              "best_by_references": {"step": by_refs, "test_rouge1": scores[by_refs]["rouge1"]},
              "gap_rouge1": round(scores[by_refs]["rouge1"] - scores[kept]["rouge1"], 2),
              "other_criteria": others, "evaluations": table}
    if dev_scores:
        by_dev = max(dev_scores, key=lambda step: dev_scores[step]["rouge1"])
        result["dev"] = str(args.dev)
        result["best_by_dev_references"] = {"step": by_dev, "dev_rouge1": dev_scores[by_dev]["rouge1"],
                                            "test_rouge1": scores[by_dev]["rouge1"]}
    path = Path(args.out) if args.out else (ROOT / "benchmarks" / "results" /
                                            f"checkpoint-choice-{dt.date.today():%Y%m%d}-{hw}-{args.name}.json")
    path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    for row in table:
        print(f"step {row['step']:>5}: score {row['score']:>8}  test R-1 {row['test_rouge1']:.2f}  "
              f"R-2 {row['test_rouge2']:.2f}  R-L {row['test_rougeL']:.2f}"
              + (f"  dev R-1 {row['devrefs_rouge1']:.2f}" if "devrefs_rouge1" in row else ""))
    if dev_scores:
        print(f"by dev references: step {by_dev} (dev R-1 {dev_scores[by_dev]['rouge1']:.2f}, "
              f"test R-1 {scores[by_dev]['rouge1']:.2f})")
    print(f"best/ kept step {kept} (test R-1 {scores[kept]['rouge1']:.2f}); by references step {by_refs} "
          f"({scores[by_refs]['rouge1']:.2f}); gap {result['gap_rouge1']:.2f}; wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
