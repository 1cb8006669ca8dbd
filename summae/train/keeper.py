"""What the trainer keeps and restores: dev evaluations and best/, last/ checkpoints, the span-bonus choice written
into them, resuming, and the faults that roll a run back to last/ (detection in summae.train.guards).

A mixin, as summae.train.timeplan's: these methods read and set the Trainer's cfg, state, models, optimizers and
accelerator; the training step itself stays in summae.train.trainer.
"""

from __future__ import annotations

import json
import sys
import time
from functools import partial
from pathlib import Path

import torch

from summae import checkpoint
from summae.config import Config
from summae.errors import SummaeError
from summae.model.build import load_for_inference, restore_weights
from summae.train import guards
from summae.runtime import release_free_memory
from summae.train.dev_eval import choose_span_bonus, evaluate_dev
from summae.train.metrics import MetricLogger


def ema_decay_at(decay: float, updates: torch.Tensor) -> torch.Tensor:
    """The average's decay after `updates` updates (a tensor, so that no step waits on the device):
    min(decay, (1 + updates) / (10 + updates)), the warm-up of TensorFlow's ExponentialMovingAverage, so that the
    first weights, far from trained, fade within about a ninth of the run's steps instead of weighing
    decay ** steps at the end."""
    updates = updates.float()
    return torch.clamp((1 + updates) / (10 + updates), max=decay)


def ema_update(averaged: list, current: list, num_averaged: torch.Tensor, *, decay: float) -> None:
    """AveragedModel's multi_avg_fn: averaged <- averaged + (1 - d) (current - averaged), d = ema_decay_at. The
    weight stays a device tensor (torch's lerp would read it as a Python number)."""
    weight = (1 - ema_decay_at(decay, num_averaged)).to(averaged[0].dtype)
    step = torch._foreach_sub(current, averaged)
    torch._foreach_mul_(step, weight)
    torch._foreach_add_(averaged, step)


def replaces_best(score: float, top: float | None, slack: float = 0.0) -> bool:
    """Does an evaluation scoring `score` replace best/, with `top` the best score of the run so far (None before
    any)? A higher score always does; with slack > 0, so does one within slack of top (train.agreement_slack)."""
    return top is None or score > top or (slack > 0 and score >= top - slack)


class RunKeeper:
    """Mixin of summae.train.trainer.Trainer: evaluation, checkpoints, resuming, faults."""

    # ---- evaluation and checkpoints ---------------------------------------------------------------
    def _unwrapped(self):
        return self.accelerator.unwrap_model(self.model)

    def _make_average(self):
        """train.ema_decay > 0: the generator's weight average (updated by _update_average), else None."""
        if self.cfg.train.ema_decay <= 0:
            return None
        from torch.optim.swa_utils import AveragedModel

        return AveragedModel(self._unwrapped(), multi_avg_fn=partial(ema_update, decay=self.cfg.train.ema_decay))

    def _update_average(self) -> None:
        if self.average is not None:
            self.average.update_parameters(self._unwrapped())

    def _kept(self):
        """The generator that is evaluated, sampled and saved: the weight average with train.ema_decay, else the
        live one."""
        return self._unwrapped() if self.average is None else self.average.module

    def _print(self, text: str) -> None:
        if self.main:
            from tqdm.auto import tqdm
            tqdm.write(text, file=sys.stderr)  # logs on stderr, beside the progress bar; stdout stays clean

    def _evaluate(self, step: int, logger: MetricLogger, elapsed: float) -> dict:
        """Score the held-out documents; a better score saves best/, with the training seconds so far."""
        if not self.main:
            self.accelerator.wait_for_everyone()
            return {}
        with self.accelerator.autocast():
            disc = self.accelerator.unwrap_model(self.disc) if self.real_batches is not None else None
            result = evaluate_dev(self._kept(), disc, self.dev)
        release_free_memory()  # the evaluation's batches leave free holes in the heap (summae/runtime.py)
        logger.write(step, {f"dev/{k}": v for k, v in result.items()})
        self._print(f"eval step {step}: " + ", ".join(f"{k} {v}" for k, v in result.items()))
        score = result["score"]
        top = self.state.get("top_score", self.state["best_score"])  # the best score so far, kept or not
        slack = self._agreement_slack()
        if replaces_best(score, top, slack):
            self.state["best_score"], self.state["best_step"] = score, step
            self._save("best", elapsed)
        self.state["top_score"] = score if top is None else max(top, score)
        self.accelerator.wait_for_everyone()
        return result

    def _search_span_bonus(self) -> None:
        """train.span_bonus_search: choose summary.span_bonus for best/ by teacher agreement on the held-out
        documents (dev_eval.choose_span_bonus), print the table, and write the choice into the run's config.yaml
        and those of best/ and last/ (each file replaced whole, its other settings kept)."""
        if self.dev.teacher is None:  # no search to agree with; without real texts the user was told already
            if self.real is not None:
                self._print("train.span_bonus_search skipped: it compares with the extraction search's summaries "
                            "(train.pseudo=extract)")
            return
        began = time.perf_counter()
        chosen = self.out / "best" if (self.out / "best" / "config.yaml").exists() else self.out / "last"
        _, _, model = load_for_inference(chosen)
        model.to(self.accelerator.device)
        with self.accelerator.autocast():
            bonus, rows = choose_span_bonus(model, self.dev)
        table = ", ".join(f"{row['span_bonus']:g}: {row['teacher_r1']}" for row in rows)
        self._print(f"summary.span_bonus {bonus:g} (train.span_bonus_search: teacher agreement R-1 of {chosen.name}/ "
                    f"on {len(self.dev.texts)} held-out documents, no references; {table}; "
                    f"{time.perf_counter() - began:.0f} s)")
        self.cfg.summary.span_bonus = bonus
        for directory in (self.out, self.out / "best", self.out / "last"):
            path = directory / "config.yaml"
            if path.exists():
                saved = Config.from_yaml(path)
                saved.summary.span_bonus = bonus
                checkpoint.replace_text(path, saved.to_yaml())

    def _agreement_slack(self) -> float:
        """train.agreement_slack where best/ is chosen by teacher agreement (no dev references), else 0."""
        return self.cfg.train.agreement_slack if self.dev.refs is None and self.dev.teacher is not None else 0.0

    def _save(self, name: str, elapsed: float) -> None:
        self.state["train_seconds"] = round(self._seconds_before + elapsed, 2)
        if not self.main:
            return
        model, disc = self._kept(), self.accelerator.unwrap_model(self.disc)

        def fill(tmp: Path) -> None:
            self.cfg.to_yaml(tmp / "config.yaml")
            model.save(tmp, self.tokenizer)
            checkpoint.save_module(disc, tmp / "discriminator.safetensors")
            (tmp / "trainer_state.json").write_text(json.dumps(self.state, indent=2), encoding="utf-8")
            if name == "last":
                checkpoint.save_training_state(tmp / checkpoint.TRAINING_STATE, self._training_parts())

        self.state["guard"] = self.guard.state_dict()
        try:
            checkpoint.write_atomic(self.out / name, fill)
        except OSError as err:  # disk full, quota, permissions: the previous checkpoint is still in place
            raise SummaeError(f"could not write the checkpoint {self.out / name} at step {self.state['step']}: "
                              f"{err.strerror or err}; the previous {name}/ is intact (free space, then "
                              f"--resume)") from None

    def _training_parts(self) -> dict:
        """What last/'s training state holds for --resume beside the saved weights: the optimizers and schedulers,
        and with a weight average the live generator and the average (the saved weights are the average's)."""
        parts = {"opt_g": self.opt_g, "opt_d": self.opt_d, "sched_g": self.sched_g, "sched_d": self.sched_d}
        if self.average is not None:
            parts.update(generator=self._unwrapped(), average=self.average)
        return parts

    def _load_training_state(self, directory: Path) -> None:
        self.state.update(checkpoint.read_state(directory))
        self.guard.load_state_dict(self.state.get("guard", {}))
        blob = checkpoint.load_training_state(directory / checkpoint.TRAINING_STATE, self._training_parts())
        checkpoint.set_rng_state(blob)
        self._print(f"resuming from {directory} at step {self.state['step']}")

    # ---- faults (detection in summae.train.guards) -------------------------------------------------------
    def _finite(self, value: torch.Tensor, what: str) -> bool:
        # (fp16 gradient norms are not checked: inf there is the loss scaler's business, it skips and rescales)
        bad = ~torch.isfinite(value.detach().float())
        if self.accelerator.num_processes > 1:
            bad = self.accelerator.reduce(bad.float(), "max") > 0  # every rank skips, or none: no DDP hang
        if bool(bad):
            self.guard.nonfinite(what, float(value.detach()))
        return not bool(bad)

    def _check_faults(self, step: int, values: dict, logger: MetricLogger) -> None:
        acc = self.accelerator
        if acc.num_processes > 1:  # all ranks must take the same decision: the mean of their collapse signals
            values = {k: acc.reduce(torch.tensor(float(v), device=acc.device), "mean").item()
                      for k, v in values.items() if k in guards.WATCHED}
        for fault in self.guard.end_step(step, values):
            self._print(fault.message)
            logger.write(step, fault.row())
            counts = self.state["faults"]
            counts[fault.kind] = counts.get(fault.kind, 0) + 1
            last = self.out / "last"
            if fault.action == "stop":
                logger.flush(step)  # the failing step's metrics, for the diagnosis
                held = (f"last/ holds step {checkpoint.read_state(last)['step']}" if last.is_dir()
                        else "no checkpoint yet")
                raise SummaeError(f"{fault.message} ({held})")
            if fault.action == "lower_lr":
                lrs = [guards.halve_lr(self.opt_g, self.sched_g), guards.halve_lr(self.opt_d, self.sched_d)]
                self._print(f"step {step}: learning rates now lr {lrs[0]:g}, d_lr {lrs[1]:g}")
            elif fault.action == "rollback" and not (last / "trainer_state.json").exists():
                self._print(f"step {step}: no checkpoint to roll back to yet: going on from the current weights")
            elif fault.action == "rollback":
                restore_weights(self._unwrapped(), self.accelerator.unwrap_model(self.disc), last)
                if self.writer is not None:
                    self.writer.reset()  # captured anew from the restored weights
                checkpoint.load_training_state(last / checkpoint.TRAINING_STATE, self._training_parts())
                self._print(f"step {step}: weights and optimizer state rolled back to last/ "
                            f"(step {checkpoint.read_state(last)['step']}); the step count goes on")
