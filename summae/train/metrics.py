"""Training metrics: metrics.jsonl (every logged step), one console line per interval, TensorBoard if installed."""

from __future__ import annotations

import json
from pathlib import Path

import torch


class MetricLogger:
    """One place for metrics: metrics.jsonl (every logged step) and one console line per interval."""

    def __init__(self, path: Path, *, echo, enabled: bool = True, tensorboard_dir: Path | None = None):
        self.path = path
        self.echo = echo
        self.enabled = enabled
        # TensorBoard too, when it is installed (optional: `pip install tensorboard`)
        self.tb = _tensorboard_writer(tensorboard_dir) if enabled and tensorboard_dir is not None else None
        self.sums: dict[str, float] = {}
        self.counts: dict[str, int] = {}  # per key: loss/adv only exists after pretraining

    def add(self, values: dict[str, float | torch.Tensor]) -> None:
        # values may be 0-d tensors: summed on their device, read once per interval in flush (no per-step sync)
        for key, value in values.items():
            value = value.detach() if isinstance(value, torch.Tensor) else float(value)
            self.sums[key] = self.sums.get(key, 0.0) + value
            self.counts[key] = self.counts.get(key, 0) + 1

    def flush(self, step: int, extra: dict | None = None) -> dict:
        row = {k: float(v) / self.counts[k] for k, v in self.sums.items()}
        row.update(extra or {})
        self.sums, self.counts = {}, {}
        self.write(step, row)
        parts = [f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in row.items()]
        self.echo(f"step {step}: " + ", ".join(parts))
        return row

    def write(self, step: int, row: dict) -> None:
        if self.enabled:
            with open(self.path, "a", encoding="utf-8") as handle:
                handle.write(json.dumps({"step": step, **row}) + "\n")
        if self.tb is not None:
            for key, value in row.items():
                if isinstance(value, (int, float)):
                    self.tb.add_scalar(key, value, step)
            self.tb.flush()

    def close(self) -> None:
        if self.tb is not None:
            self.tb.close()


def _tensorboard_writer(log_dir: Path):
    try:
        from torch.utils.tensorboard import SummaryWriter  # raises ImportError without the tensorboard package
    except ImportError:
        return None
    return SummaryWriter(str(log_dir))
