"""Fault detection for training: non-finite losses and collapsed GANs, reported in plain words.

The guard only watches: the trainer tells it about a non-finite value (`nonfinite`) and hands it each
step's metrics (`end_step`); the guard answers with the faults it sees and what the config says to do
about them (`train.on_nonfinite`, `train.on_collapse`). The trainer carries the actions out (skip,
rollback to last/, halve the learning rates, stop), so this module stays pure and unit-testable.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from summae.config import TrainConfig

WATCHED = ("d/acc_real", "d/acc_fake", "summary/distinct")  # the step metrics the collapse checks read
ACTION_WORDS = {
    "skip": "the update was skipped",
    "rollback": "rolling back to the last checkpoint",
    "lower_lr": "halving the learning rates",
    "warn": "training goes on",
    "stop": "stopping",
}


@dataclass
class Fault:
    kind: str  # "nonfinite" | "collapse"
    action: str  # "skip" | "rollback" | "lower_lr" | "warn" | "stop"
    step: int  # the step count when it was seen (1-based, as in the log lines)
    message: str  # plain words for the console and metrics.jsonl

    def row(self) -> dict:
        """Its metrics.jsonl row (without the step, which the logger adds)."""
        return {f"fault/{self.kind}": 1, "fault/action": self.action, "fault/message": self.message}


class FaultGuard:
    """Counts non-finite steps and collapse streaks; decides, never acts."""

    def __init__(self, t: TrainConfig):
        self.t = t
        self.bad_in_a_row = 0  # consecutive steps with a non-finite value
        self.pinned_streak = 0  # consecutive steps with D accuracy >= collapse_acc on both sides
        self.same_streak = 0  # consecutive steps whose summaries were all identical
        self._bad: tuple[str, float] | None = None  # this step's first non-finite value

    def nonfinite(self, what: str, value: float) -> None:
        """The trainer saw a NaN/inf (and did not apply that update)."""
        if self._bad is None:
            self._bad = (what, value)

    @property
    def step_is_bad(self) -> bool:
        return self._bad is not None

    def state_dict(self) -> dict:
        # saved in trainer_state.json: a resumed run counts its streaks on, as an unbroken run would
        return {"bad_in_a_row": self.bad_in_a_row, "pinned_streak": self.pinned_streak,
                "same_streak": self.same_streak}

    def load_state_dict(self, state: dict) -> None:
        for key in self.state_dict():
            setattr(self, key, int(state.get(key, 0)))

    def end_step(self, step: int, values: dict) -> list[Fault]:
        """The faults of the step that just ended (step = the 1-based count), with the configured actions."""
        faults = []
        if self._bad is not None:
            faults.append(self._nonfinite_fault(step, *self._bad))
            self._bad = None
        else:
            self.bad_in_a_row = 0
        faults += self._collapse_faults(step, values)
        return faults

    def _nonfinite_fault(self, step: int, what: str, value: float) -> Fault:
        self.bad_in_a_row += 1
        action = self.t.on_nonfinite
        text = f"step {step}: the {what} was {_number(value)}, not a finite number"
        if self.bad_in_a_row >= self.t.max_bad_steps:
            action = "stop"
            text += (f", {self.bad_in_a_row} steps in a row (train.max_bad_steps={self.t.max_bad_steps}): "
                     f"lower train.lr or check the data")
        elif action == "stop":
            text += " (train.on_nonfinite=stop): lower train.lr or check the data"
        return Fault("nonfinite", action, step, f"{text}; {ACTION_WORDS[action]}")

    def _collapse_faults(self, step: int, values: dict) -> list[Fault]:
        n, thr = self.t.collapse_steps, self.t.collapse_acc
        if n <= 0:
            return []
        pinned = values.get("d/acc_real", 0.0) >= thr and values.get("d/acc_fake", 0.0) >= thr
        same = values.get("summary/distinct", 0.0) == 1.0
        self.pinned_streak = self.pinned_streak + 1 if pinned else 0
        self.same_streak = self.same_streak + 1 if same else 0
        faults, action = [], self.t.on_collapse
        if self.pinned_streak >= n:
            self.pinned_streak = 0  # report once per streak of n steps
            faults.append(Fault("collapse", action, step, (
                f"step {step}: GAN collapse: the discriminator told real texts from generated summaries with accuracy "
                f">= {thr} on both for {n} steps in a row, so it gives the generator no useful signal "
                f"(train.on_collapse={action}); {ACTION_WORDS[action]}")))
        if self.same_streak >= n:
            self.same_streak = 0
            faults.append(Fault("collapse", action, step, (
                f"step {step}: GAN collapse: the compressor wrote the same summary for every document of the "
                f"batch for {n} steps in a row (train.on_collapse={action}); {ACTION_WORDS[action]}")))
        return faults


def _number(value: float) -> str:
    return "NaN" if math.isnan(value) else ("+inf" if value > 0 else "-inf") if math.isinf(value) else f"{value:g}"


def halve_lr(optimizer, scheduler) -> float:
    """Halve the learning rate now and for good (the scheduler's base rate too, saved with it); the new base rate."""
    scheduler.base_lrs = [lr / 2 for lr in scheduler.base_lrs]
    for group in optimizer.param_groups:
        group["lr"] /= 2
    return scheduler.base_lrs[0]
