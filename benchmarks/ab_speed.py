"""Old vs new code in one process, timed alternately: the fair comparison on a busy, shared machine.

    python benchmarks/ab_speed.py --old-root DIR [--old-package summae_old] [--rounds N] [--batch-size B]
        [--sentences N] [--summarize-batch-size B] [--summarize-only] [--old-label TEXT] [--out FILE] [--set k=v ...]

DIR holds a copy of an older summae renamed to `summae_old` (imports rewritten), e.g.:
    git archive <commit> summae | tar -x -C /tmp/old && mv /tmp/old/summae /tmp/old/summae_old
    sed -i -E 's/(from|import) summae(\\.| )/\\1 summae_old\\2/g' /tmp/old/summae_old/*.py
Both builds read the same config (summae/configs/throughput.yaml, fp32 on CPU), the same tokenizer and the same
batches; each round times one training step, one supervised step and one summarizing batch of each build,
old and new back to back, so load from other processes hits both alike. Summarizing uses each build's
default decoding (`--precision auto`) at summae summarize's batch, on a copy of the model (bf16 converts
the model it gets in place; until 2026-11-30 it got the trained one, so runs without --summarize-only trained a
bf16 compressor). --summarize-only skips the two steps
(a summarizing change; the model is then the untrained throughput model). Prints medians, their ratios and the
median of the rounds' ratios (`*_speedup_paired`) as JSON
and, with --out, writes them with the commit, date and hardware. Both builds run with the CLI's allocator
tuning (summae/runtime.py).
"""

from __future__ import annotations

import argparse
import copy
import importlib
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")


def resolved_config(cfg_overrides: list[str], out_dir: str) -> str:
    """The throughput config resolved by the new build, every field written out: both builds read this file, so
    a change of defaults or of the shipped YAML cannot give the two builds different settings."""
    from summae.config import load_config

    path = Path(out_dir) / "throughput.yaml"
    path.write_text(load_config("throughput", cfg_overrides).to_yaml(), encoding="utf-8")
    return str(path)


def build(package: str, config_path: str, out_dir: str):
    try:
        trainer_mod = importlib.import_module(f"{package}.train.trainer")
    except ModuleNotFoundError:  # builds before the package's train/ layout
        trainer_mod = importlib.import_module(f"{package}.trainer")
    config_mod = importlib.import_module(f"{package}.config")
    # a build older than some settings reads the file without them (they are at their defaults: off)
    import dataclasses

    import yaml

    raw = yaml.safe_load(Path(config_path).read_text(encoding="utf-8"))
    default = config_mod.Config()
    for section in list(raw):
        if not hasattr(default, section):
            del raw[section]
        elif isinstance(raw[section], dict):
            fields = {f.name for f in dataclasses.fields(getattr(default, section))}
            raw[section] = {k: v for k, v in raw[section].items() if k in fields}
    cfg = config_mod.Config.from_dict(raw).validated()
    return cfg, trainer_mod.Trainer(cfg, out_dir, device="cpu", echo=lambda s: None, progress=False)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--old-root", required=True)
    parser.add_argument("--old-package", default="summae_old")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--sentences", type=int, default=512, help="summarized per round and build")
    parser.add_argument("--summarize-batch-size", type=int, default=None, help="default: summae summarize's")
    parser.add_argument("--summarize-only", action="store_true", help="time summarizing only")
    parser.add_argument("--precision", default="auto", help="summarizing precision (summae summarize's --precision)")
    parser.add_argument("--old-label", default="", help="what the old build is (a commit), for the JSON")
    parser.add_argument("--out", help="write the result JSON here too")
    parser.add_argument("--tokenizer", default="/tmp/spd/tok", help="saved here on the first run")
    parser.add_argument("--set", action="append", default=[])
    args = parser.parse_args(argv)
    sys.path.insert(0, args.old_root)
    import torch

    from summae.runtime import tune_cpu_allocator
    from summae.summarize import BATCH_SIZE
    from throughput import dev_sentences, supervised_step_fn, write_result

    tune_cpu_allocator()
    sum_bs = args.summarize_batch_size or BATCH_SIZE

    data_dir = ROOT.parent / "shared" / "data"
    base = [f"data.data_dir={data_dir}", f"train.batch_size={args.batch_size}", "train.mixed_precision=no"]
    tok = Path(args.tokenizer)
    with tempfile.TemporaryDirectory() as tmp:
        if not (tok / "tokenizer_config.json").exists():
            _, first = build("summae", resolved_config(base + list(args.set), tmp), f"{tmp}/first")
            first.tokenizer.save_pretrained(str(tok))
        base.append(f"tokenizer.path={tok}")
        config_path = resolved_config(base + list(args.set), tmp)
        builds = {}
        for name, package in (("old", args.old_package), ("new", "summae")):
            cfg, trainer = build(package, config_path, f"{tmp}/{name}")
            model = trainer.accelerator.unwrap_model(trainer.model)
            summarizer = importlib.import_module(f"{package}.summarize").Summarizer(
                cfg, trainer.tokenizer, copy.deepcopy(model), precision=args.precision)  # training stays fp32
            builds[name] = dict(cfg=cfg, trainer=trainer, model=model, summarizer=summarizer,
                                reals=trainer.real_batches.iterate(0), gen=torch.Generator().manual_seed(0),
                                sup=supervised_step_fn(trainer, model))
        docs = builds["new"]["trainer"].batches.iterate(0)
        batches = [next(docs) for _ in range(args.rounds + 1)]
        texts = dev_sentences(builds["new"]["cfg"], args.sentences)
        parts = ("summarize",) if args.summarize_only else ("train", "sup", "summarize")
        times = {f"{k}_{part}": [] for k in builds for part in parts}
        for r, batch in enumerate(batches):
            for name, b in builds.items():
                step = b["cfg"].train.pretrain_steps + r
                begin = t1 = t2 = time.perf_counter()
                if not args.summarize_only:
                    b["trainer"].train_step(step, batch, b["reals"], b["gen"])
                    t1 = time.perf_counter()
                    b["model"].train()
                    b["sup"](r, batch)
                    t2 = time.perf_counter()
                b["summarizer"](texts, batch_size=sum_bs)
                t3 = time.perf_counter()
                if r:  # round 0 warms up
                    if not args.summarize_only:
                        times[f"{name}_train"].append(t1 - begin)
                        times[f"{name}_sup"].append(t2 - t1)
                    times[f"{name}_summarize"].append(t3 - t2)
            print(f"round {r}: " + ", ".join(f"{k} {v[-1]:.3f}" for k, v in times.items() if v), file=sys.stderr)
    med = {k: statistics.median(v) for k, v in times.items()}
    out = {"old": args.old_label, "rounds": args.rounds, "batch_size": args.batch_size,
           "summarize_batch_size": sum_bs, "sentences": args.sentences, "set": args.set,
           "precision": {name: b["summarizer"].precision for name, b in builds.items()},
           "load_average": os.getloadavg(), "median_s": {k: round(v, 4) for k, v in med.items()},
           "runs_s": {k: [round(x, 4) for x in v] for k, v in times.items()}}
    for name in builds:
        if not args.summarize_only:
            out[f"{name}_train_over_supervised"] = round(med[f"{name}_train"] / med[f"{name}_sup"], 3)
        out[f"{name}_summarize_sentences_per_s"] = round(args.sentences / med[f"{name}_summarize"], 1)
    for part in parts:
        if part != "sup":
            old_s, new_s = times[f"old_{part}"], times[f"new_{part}"]
            out[f"{part}_speedup"] = round(med[f"old_{part}"] / med[f"new_{part}"], 3)
            # the median of each round's old / new: robust where this VM's speed shifts between rounds, which
            # moves the medians of the two builds by different amounts
            out[f"{part}_speedup_paired"] = round(statistics.median(o / n for o, n in zip(old_s, new_s)), 3)
    print(json.dumps(out, indent=1))
    if args.out:
        write_result("ab_speed", out, out=args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
