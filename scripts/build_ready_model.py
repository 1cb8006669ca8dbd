"""Build the ready model shipped in summae/data/ready/: train summae/configs/ready.yaml on the bundled corpus on
the CPU for its fixed step budget, then export best/ for inference only.

    python scripts/build_ready_model.py                          # train runs/ready, export summae/data/ready
    python scripts/build_ready_model.py --from-run runs/ready    # export an existing run again

The export keeps what `summae summarize` and `summae score` read: config.yaml, trainer_state.json,
compressor/ (weights, copy head, tokenizer) and reconstructor/ (weights), with every weight stored in
fp16 (loading casts back to fp32). The discriminator and the optimizer state are left out.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run from a checkout without installing

from summae.cli import Parser  # noqa: E402
from summae.errors import SummaeError  # noqa: E402

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "spiece.model",
                   "tokenizer.model", "added_tokens.json")
LIMIT_BYTES = 10 * 1024 * 1024  # the shipped model must stay <= 10 MB


def to_fp16(src: Path, dst: Path) -> None:
    """Copy a safetensors file with its floating-point tensors halved (integer tensors unchanged)."""
    from safetensors.torch import load_file, save_file

    state = load_file(str(src))
    save_file({k: v.half() if v.is_floating_point() else v for k, v in state.items()}, str(dst))
    os.chmod(dst, 0o644)  # package data: readable by everyone, like the files copied beside it


def export(checkpoint: Path, target: Path) -> dict:
    """Write the inference-only copy of `checkpoint` to `target` (replacing it); returns its file sizes."""
    from summae.checkpoint import write_atomic

    def fill(tmp: Path) -> None:
        shutil.copy(checkpoint / "config.yaml", tmp / "config.yaml")
        state = json.loads((checkpoint / "trainer_state.json").read_text(encoding="utf-8"))
        (tmp / "trainer_state.json").write_text(json.dumps(state, indent=2) + "\n", encoding="utf-8")
        for part in ("compressor", "reconstructor"):
            (tmp / part).mkdir()
            for name in ("config.json", "generation_config.json"):
                shutil.copy(checkpoint / part / name, tmp / part / name)
            for weights in sorted((checkpoint / part).glob("*.safetensors")):
                to_fp16(weights, tmp / part / weights.name)
        # the tokenizer once, beside the compressor: load_for_inference reads it there
        for name in TOKENIZER_FILES:
            if (checkpoint / "compressor" / name).exists():
                shutil.copy(checkpoint / "compressor" / name, tmp / "compressor" / name)

    target.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(target, fill)
    return {str(p.relative_to(target)): p.stat().st_size for p in sorted(target.rglob("*")) if p.is_file()}


def git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    p = Parser(prog="build_ready_model.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--config", default=str(REPO / "summae" / "configs" / "ready.yaml"),
                   help="config (default summae/configs/ready.yaml)")
    p.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE", help="override a config value")
    p.add_argument("--run-dir", default="runs/ready", help="training run directory (default runs/ready)")
    p.add_argument("--from-run", help="skip training: export this existing run directory's best/ checkpoint")
    p.add_argument("--output", default=str(REPO / "summae" / "data" / "ready"),
                   help="where the shipped model goes (default summae/data/ready)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    from summae.checkpoint import resolve_model_dir
    from summae.cli import quiet_libraries
    from summae.config import load_config

    quiet_libraries()
    try:
        if args.from_run:
            run_dir = Path(args.from_run)
        else:
            from summae.train.trainer import Trainer

            cfg = load_config(args.config, args.set)
            if cfg.train.minutes is not None:
                raise SummaeError("train.minutes must be null: the ready model is built to a step budget")
            run_dir = Path(args.run_dir)
            # CPU on purpose: the same seed, data and steps give the same weights on any CPU machine
            Trainer(cfg, run_dir, device="cpu", echo=print, progress=False).train()
        best = resolve_model_dir(run_dir)
        sizes = export(best, Path(args.output))
    except SummaeError as err:
        print(f"build_ready_model.py: error: {err}", file=sys.stderr)
        return 2
    total = sum(sizes.values())
    for name, size in sizes.items():
        print(f"{size / 1e6:8.3f} MB  {name}")
    print(f"{total / 1e6:8.3f} MB  in all, from {best} (commit {git_commit()[:12]})")
    if total > LIMIT_BYTES:
        print(f"build_ready_model.py: error: the export is {total / 1e6:.1f} MB, over the 10 MB limit",
              file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
