"""Checkpoint directories: written atomically, read back without guessing.

A checkpoint is a directory holding `config.yaml`, `compressor/` and `reconstructor/` (save_pretrained
directories with the tokenizer), `discriminator.safetensors`, `trainer_state.json` and, in `last/` only,
`training_state.pt` (optimizer, scheduler and RNG state, tensors only) for `--resume`.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from summae.errors import SummaeError

REQUIRED = ("config.yaml", "compressor", "trainer_state.json")


def _fsync_tree(root: Path) -> None:
    for path in sorted(root.rglob("*")):
        if path.is_file():
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())
    fd = os.open(root, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(target: Path, fill) -> None:
    """Call fill(tmp_dir), fsync it, then swap it in for `target`: a crash leaves the old or the new, never half."""
    target = Path(target)
    tmp = target.parent / f".{target.name}.tmp-{uuid.uuid4().hex[:8]}"
    old = target.parent / f".{target.name}.old"
    tmp.mkdir(parents=True)
    try:
        fill(tmp)
        _fsync_tree(tmp)
        if old.exists():
            shutil.rmtree(old)
        if target.exists():
            target.rename(old)
        tmp.rename(target)
        if old.exists():
            shutil.rmtree(old)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if not target.exists() and old.exists():
            old.rename(target)  # put the previous checkpoint back
        raise


def recover(target: Path) -> None:
    """After a crash between the two renames, the previous checkpoint sits in `.NAME.old`: bring it back."""
    target = Path(target)
    old = target.parent / f".{target.name}.old"
    if not target.exists() and old.exists():
        old.rename(target)
    for stale in target.parent.glob(f".{target.name}.tmp-*"):
        shutil.rmtree(stale, ignore_errors=True)


def save_module(module: torch.nn.Module, path: Path) -> None:
    save_file({k: v.detach().contiguous().cpu() for k, v in module.state_dict().items()}, str(path))


def load_module(module: torch.nn.Module, path: Path) -> None:
    try:
        state = load_file(str(path))
    except (SafetensorError, OSError) as err:
        raise SummaeError(f"{path} is not a readable safetensors file: {err}") from None
    module.load_state_dict(state)


def read_state(directory: Path) -> dict:
    path = Path(directory) / "trainer_state.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise SummaeError(f"cannot read {path}: {err}") from None


def resolve_model_dir(path: str | Path) -> Path:
    """A checkpoint directory from what a user passes: a checkpoint, a run directory (best/, else last/),
    or a checkpoint's compressor/ folder. Raises SummaeError naming what is missing."""
    path = Path(path)
    if not path.exists():
        raise SummaeError(f"model directory not found: {path}")
    candidates = [path, path / "best", path / "last", path.parent]
    for candidate in candidates:
        if all((candidate / name).exists() for name in REQUIRED):
            return candidate
    raise SummaeError(f"{path} is not a summae model (expected {', '.join(REQUIRED)} in it, or a run directory "
                      f"with best/ or last/)")
