"""Training metrics: metrics.jsonl (every logged step), one console line per interval, TensorBoard if installed;
the progress bar."""

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


class Progress:
    """The training progress bar (stderr). Its share done is that of the budget that ends training first: steps,
    or train.minutes (counting earlier sessions of a resumed run), so its time left is right either way."""

    RESOLUTION = 1000  # the bar counts thousandths of the budget

    def __init__(self, *, steps: int, start: int, seconds: float | None, seconds_before: float, enabled: bool):
        from tqdm.auto import tqdm

        self.steps, self.seconds, self.before = steps, seconds, seconds_before
        self.note = ""
        self.bar = tqdm(total=self.RESOLUTION, disable=not enabled, dynamic_ncols=True, leave=False,
                        bar_format="{l_bar}{bar}| {elapsed}<{remaining}{postfix}")
        self.advance(start, 0.0)

    def share(self, step: int, elapsed: float) -> float:
        done = step / max(self.steps, 1)
        if self.seconds:
            done = max(done, (self.before + elapsed) / self.seconds)
        return min(done, 1.0)

    def advance(self, step: int, elapsed: float) -> None:
        self.bar.n = int(self.share(step, elapsed) * self.RESOLUTION)
        self.bar.set_postfix_str(f"step {step}{self.note}", refresh=False)
        self.bar.refresh()

    def set_postfix(self, **values) -> None:
        """Shown after the step count from the next advance() on."""
        self.note = "".join(f", {k} {v}" for k, v in values.items())

    def close(self) -> None:
        self.bar.close()
