"""Checkpoint directories: written atomically, read back without guessing.

A checkpoint is a directory holding `config.yaml`, `compressor/` and `reconstructor/` (save_pretrained
directories with the tokenizer), `discriminator.safetensors`, `trainer_state.json` and, in `last/` only,
`training_state.pt` (optimizer, scheduler and RNG state, tensors only) for `--resume`.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import uuid
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from summae.errors import SummaeError

REQUIRED = ("config.yaml", "compressor", "trainer_state.json")
TRAINING_STATE = "training_state.pt"  # optimizers, schedulers, RNG: read only by --resume of the same run


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_tree(root: Path) -> None:
    for path in sorted(root.rglob("*")):
        if path.is_file():
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())
        elif path.is_dir():
            _fsync_dir(path)  # the entries of compressor/ and reconstructor/ themselves
    _fsync_dir(root)


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
        _fsync_dir(target.parent)  # the renames themselves survive a power cut
        if old.exists():
            shutil.rmtree(old)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if not target.exists() and old.exists():
            old.rename(target)  # put the previous checkpoint back
        raise


def replace_text(path: Path, text: str) -> None:
    """Write `text` to a temporary file beside `path`, fsync it, then swap it in: `path` is old or new, never half."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex[:8]}")
    try:
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    _fsync_dir(path.parent)


def recover(target: Path) -> None:
    """After a crash between the two renames, the previous checkpoint sits in `.NAME.old`: bring it back."""
    target = Path(target)
    old = target.parent / f".{target.name}.old"
    if not target.exists() and old.exists():
        old.rename(target)
    for stale in target.parent.glob(f".{target.name}.tmp-*"):
        shutil.rmtree(stale, ignore_errors=True)


def trim_metrics(path: Path, step: int) -> None:
    """Keep the metrics.jsonl rows of steps <= `step` (the checkpoint a run starts from), dropping the rows a
    killed run wrote after it and any half-written last line; rewritten atomically."""
    path = Path(path)
    if not path.exists():
        return
    kept = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            continue  # a line cut by a kill
        if isinstance(row, dict) and isinstance(row.get("step"), int) and row["step"] <= step:
            kept.append(line + "\n")
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.writelines(kept)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def save_training_state(path: Path, parts: dict) -> None:
    """Optimizer and scheduler state_dicts (parts: name -> object) and the RNG states, as tensors only."""
    blob = {name: part.state_dict() for name, part in parts.items()}
    blob["torch_rng"] = torch.get_rng_state()
    if torch.cuda.is_available():
        blob["cuda_rng"] = torch.cuda.get_rng_state_all()
    torch.save(blob, path)


def load_training_state(path: Path, parts: dict) -> dict:
    """Load what save_training_state wrote into `parts`; returns the blob (for set_rng_state)."""
    try:
        # weights_only: tensors and plain containers, never arbitrary pickled objects
        blob = torch.load(path, map_location="cpu", weights_only=True)
        for name, part in parts.items():
            part.load_state_dict(blob[name])
    except pickle.UnpicklingError:
        raise SummaeError(f"cannot resume from {path}: it holds objects other than tensors and plain containers, "
                          f"which are never unpickled (was it replaced?)") from None
    except (OSError, RuntimeError, EOFError, KeyError, ValueError) as err:
        detail = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise SummaeError(f"cannot resume from {path}: {detail}") from None
    return blob


def set_rng_state(blob: dict) -> None:
    torch.set_rng_state(blob["torch_rng"])
    if "cuda_rng" in blob and torch.cuda.is_available() and len(blob["cuda_rng"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(blob["cuda_rng"])


def save_module(module: torch.nn.Module, path: Path) -> None:
    save_file({k: v.detach().contiguous().cpu() for k, v in module.state_dict().items()}, str(path))


def load_module(module: torch.nn.Module, path: Path) -> None:
    try:
        state = load_file(str(path))
    except (SafetensorError, OSError) as err:
        raise SummaeError(f"{path} is not a readable safetensors file: {err}") from None
    try:
        module.load_state_dict(state)
    except RuntimeError as err:  # renamed, missing or reshaped tensors: a tampered or foreign file
        raise SummaeError(f"{path} does not hold this model's weights: {_first_problem(err)}") from None


def _first_problem(err: Exception) -> str:
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    return lines[1] if len(lines) > 1 else (lines[0] if lines else type(err).__name__)


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
