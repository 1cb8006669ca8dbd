"""Gigaword benchmark: train from scratch, summarize dev with the default decoding, score dev and DUC-2003.

    python benchmarks/gigaword.py [--config summae/configs/gigaword.yaml] [--set k=v ...] [--data-dir DIR]
        [--device cpu|cuda] [--minutes M | --steps N] [--seed S] [--labeled-pairs N] [--no-discriminator]
        [--run NAME] [--out FILE]

Writes benchmarks/results/gigaword-<YYYYMMDD>-<hardware>-<run>.json (ROUGE in percent, 2 decimals).
Dev: F1 against dev.title.txt; DUC-2003: recall at 75 bytes against 4 references (`summae evaluate --duc`).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from throughput import commit  # noqa: E402  (one definition of a run's commit for every benchmark)
from throughput import hardware as _hardware  # noqa: E402


def hardware(device: str | None = None) -> tuple[str, str]:
    """benchmarks/throughput.py's hardware() for the device a run uses: cuda where one is available, unless
    device is "cpu"."""
    import torch

    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    return _hardware(device)


def eval_sets(data_dir: Path):
    from summae.io import read_lines
    from summae.pipeline import EvalSet

    giga, duc = data_dir / "gigaword", data_dir / "duc2003"
    sets = [EvalSet("dev", read_lines(str(giga / "dev.article.txt")),
                    [[r] for r in read_lines(str(giga / "dev.title.txt"))])]
    if (duc / "input.txt").exists():
        refs = [read_lines(str(duc / f"task1_ref{i}.txt")) for i in range(4)]
        sets.append(EvalSet("duc2003", read_lines(str(duc / "input.txt")), [list(r) for r in zip(*refs)], duc=True))
    return sets


def dev_pairs(data_dir: Path, docs: int, dev: str | None = None, *, text_field: str = "document",
              reference_field: str = "summary") -> tuple[list[str], list[list[str]]]:
    """The first `docs` dev documents and their references (one each): from a jsonl file `dev` with these fields, or
    Gigaword dev under data_dir. The experiments' dev screens read their pairs through this."""
    if dev:
        from summae.io import read_texts
        return (read_texts(dev, field=text_field)[:docs], [[r] for r in read_texts(dev, field=reference_field)[:docs]])
    gigaword_dev = next(x for x in eval_sets(data_dir) if x.name == "dev")
    return gigaword_dev.documents[:docs], gigaword_dev.references[:docs]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", default=str(ROOT / "summae" / "configs" / "gigaword.yaml"))
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE")
    parser.add_argument("--data-dir", default=None,
                        help="folder holding gigaword/ and duc2003/ (default ../shared/data)")
    parser.add_argument("--device", choices=["cpu", "cuda"], default=None)
    budget = parser.add_mutually_exclusive_group()
    budget.add_argument("--minutes", type=float, help="training time budget")
    budget.add_argument("--steps", type=int, help="fixed number of steps (no time budget), for ablations")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--labeled-pairs", type=int, default=0,
                        help="semi-supervised: labeled pairs from gigaword/labeled.jsonl (0 = unsupervised)")
    parser.add_argument("--no-discriminator", action="store_true")
    parser.add_argument("--run", default="default", help="name of this run in the result file name")
    parser.add_argument("--out", help="result JSON path (default benchmarks/results/gigaword-DATE-HW-RUN.json)")
    parser.add_argument("--output-dir", help="training run directory (default runs/gigaword-RUN)")
    parser.add_argument("--resume", action="store_true",
                        help="continue the run in --output-dir from its last/ checkpoint, with the settings given "
                             "(e.g. variants of the auto-encoding phase from one copy of a pretraining checkpoint)")
    parser.add_argument("--limit-eval", type=int, help="score only the first N documents of each set (smoke tests)")
    args = parser.parse_args(argv)

    from summae.cli import quiet_libraries
    from summae.config import load_config
    from summae.errors import SummaeError
    from summae.io import read_lines
    from summae.pipeline import train_and_score
    from summae.eval.readability import TrigramLM

    quiet_libraries()
    started_at = commit()  # the code that trains: read now, not after a run that may outlast later commits
    if args.labeled_pairs < 0:
        print(f"error: --labeled-pairs must be >= 0, got {args.labeled_pairs}", file=sys.stderr)
        return 2
    overrides = list(args.set) + [f"train.seed={args.seed}"]
    data_dir = Path(args.data_dir) if args.data_dir else (ROOT.parent / "shared" / "data")
    overrides.append(f"data.data_dir={data_dir}")
    if args.minutes is not None:
        overrides.append(f"train.minutes={args.minutes}")
    if args.steps is not None:
        overrides += [f"train.steps={args.steps}", "train.minutes=null"]
    if args.labeled_pairs:
        # semi-supervised rows are reported apart (labeled_pairs in the JSON), never as unsupervised results
        overrides += ['data.labeled_files=["gigaword/labeled.jsonl"]', f"data.labeled_pairs={args.labeled_pairs}"]
    if args.no_discriminator:
        # D is not trained and gives no loss; the real texts stay (the tokenizer and train.pseudo=extract's
        # language model are fitted on them), so the ablation changes one thing only
        overrides.append("train.adv_weight=0")
    try:
        cfg = load_config(args.config, overrides)
        hw, detail = hardware("cpu" if args.device == "cpu" else None)
        out_dir = Path(args.output_dir or ROOT / "runs" / f"gigaword-{args.run}")
        device = "cpu" if args.device == "cpu" else "auto"
        sets = eval_sets(data_dir)
        if args.limit_eval:
            for eval_set in sets:
                eval_set.documents = eval_set.documents[: args.limit_eval]
                eval_set.references = eval_set.references[: args.limit_eval]
        # readability yardstick: a trigram LM of the headline corpus, fitted even when D does not use it
        lm = TrigramLM(read_lines(str(data_dir / "gigaword" / "train.headline.txt")))
        report = train_and_score(cfg, out_dir, sets, device=device,
                                 echo=lambda s: print(s, file=sys.stderr, flush=True), progress=False, lm=lm,
                                 resume=args.resume)
    except SummaeError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    eval_list, sets = sets, report["sets"]
    keep = ("rouge1", "rouge2", "rougeL", "words")
    result = {
        "benchmark": "gigaword", "run": args.run, "commit": started_at, "date": dt.date.today().isoformat(),
        "hardware": hw, "hardware_detail": detail, "seed": args.seed, "steps": report["steps"],
        "train_seconds": report["train_seconds"], "train_docs_per_s": report["train_docs_per_s"],
        "labeled_pairs": args.labeled_pairs, "resumed": args.resume,
        # train_seconds counts the directory's earlier runs too (the budget's view); a resumed run's own share:
        **({"resumed_from_step": report["start_step"], "train_seconds_this_run": report["seconds_this_run"]}
           if args.resume else {}),
        "eval_documents": {k: v["model"]["n"] for k, v in sets.items()},
        "discriminator": bool(cfg.data.real_files) and cfg.train.adv_weight > 0,
        "best_step": report["best_step"], "config": cfg.to_dict(),
        "summarize_sentences_per_s": sets["dev"]["summarize_sentences_per_s"],
    }
    for name, payload in sets.items():
        result[name] = {k: payload["model"][k] for k in keep}
    result["baselines"] = {name: {b: {k: v[k] for k in keep} for b, v in payload["baselines"].items()
                                  if b not in ("summae", "teacher")} for name, payload in sets.items()}
    # train.pseudo=extract: the search the model distils, scored the same way (not a model result)
    result["teacher"] = {name: {k: payload["baselines"]["teacher"][k] for k in keep}
                         for name, payload in sets.items() if "teacher" in payload["baselines"]}
    result["readability"] = {name: payload["readability"] for name, payload in sets.items()
                             if "readability" in payload}
    import torch

    from summae.pipeline import autoencoder_report, score_model

    dev_set = next(s for s in eval_list if s.name == "dev")
    if device == "auto" and torch.cuda.is_available():
        # CUDA-graph decoding is off by default until measured: decode dev once more through graphs, and record
        # whether the summaries agree and how fast each way is (the measurement that decides the default)
        eager = (out_dir / "dev.summaries.txt").read_text(encoding="utf-8").split("\n")
        graphed, hyps, rate = score_model(out_dir, dev_set, device="cuda", cuda_graphs=True)
        result["dev_with_cuda_graphs"] = {**{k: graphed[k] for k in keep},
                                          "identical_summaries": sum(a == b for a, b in zip(hyps, eager)),
                                          "of": len(hyps), "summarize_sentences_per_s": round(rate, 1)}
    # the bottleneck as an auto-encoder on dev (best/): reconstruction NLL and ROUGE, word order, 10 triples;
    # and the final checkpoint (last/) scored beside best/
    result["autoencoder"] = autoencoder_report(out_dir, dev_set.documents, device=device)
    result["word_order"] = {name: payload["word_order"] for name, payload in sets.items()}
    last, _, _ = score_model(out_dir / "last", dev_set, device=device)
    result["dev_last"] = {k: last[k] for k in keep}
    result["samples"] = sets["dev"]["samples"]
    result["random_samples"] = sets["dev"]["random_samples"]
    out = Path(args.out) if args.out else (ROOT / "benchmarks" / "results" /
                                           f"gigaword-{dt.date.today():%Y%m%d}-{hw}-{args.run}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({k: result[k] for k in ("dev", "duc2003", "steps", "train_seconds") if k in result}))
    print(f"wrote {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
