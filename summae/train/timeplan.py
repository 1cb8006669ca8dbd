"""The time plan of a `train.minutes` budget, as the trainer runs it (train.pretrain_share).

summae.train.plan holds the arithmetic (a plan from measured step times, its revisions); this mixin gives
the Trainer the parts that need its state: measuring a step of each phase and an evaluation without changing
the run, setting the planned steps, revising them from the steps' real times, and saying when to evaluate.
"""

from __future__ import annotations

import dataclasses
import time

import torch

from summae.runtime import release_free_memory
from summae.train import plan
from summae.train.batches import StreamBatches
from summae.train.dev_eval import evaluate_dev
from summae.train.metrics import Progress


class PhasePlanner:
    """Mixin of summae.train.trainer.Trainer: reads and sets its cfg, state, batches, models and accelerator."""

    def _plan_phases(self) -> None:
        """With train.minutes and train.pretrain_share: set train.pretrain_steps, steps and eval_every from the
        seconds a step of each phase and an evaluation take here (summae.train.plan), print the plan, and keep it
        in trainer_state.json, so that a resumed run follows it without measuring again. Without them (or when
        resuming a run that started without a plan): the configured steps, train.minutes a clock stop."""
        t = self.cfg.train
        self.time_plan = None
        if t.minutes is None or t.pretrain_share is None:
            return
        if "plan" in self.state:
            chosen = plan.Plan(**{**self.state["plan"], "revised": tuple(self.state["plan"].get("revised", ()))})
        elif self.state["step"] > 0:
            return
        else:
            begin = time.perf_counter()
            times = self._probe()
            spent = time.perf_counter() - begin
            self.state["train_seconds"] += round(spent, 2)  # the measurement is part of the budget
            # and so are the teacher search and the judge's fit before it (train.teacher_search, train.pseudo_judge),
            # already in train_seconds
            chosen = plan.make_plan(budget_s=t.minutes * 60 - self.state["train_seconds"], share=t.pretrain_share,
                                    max_steps=t.steps,
                                    minutes=t.minutes, **times)
            if self.accelerator.num_processes > 1:  # every rank follows the main process's plan: no DDP hang
                from accelerate.utils import broadcast_object_list
                chosen = broadcast_object_list([chosen])[0]
            self.state["plan"] = chosen.to_dict()
        self.time_plan, self._phase_times, self._planned_max_steps = chosen, {}, t.steps
        self.cfg = dataclasses.replace(self.cfg, train=dataclasses.replace(
            t, pretrain_steps=chosen.pretrain_steps, steps=chosen.steps, eval_every=chosen.eval_every))
        self._print(chosen.describe())

    def _evaluation_due(self, step: int, t) -> bool:
        """Every train.eval_every steps; with a time plan, once at the end of pretraining and then every eval_every
        steps from there (evaluations inside pretraining would only take its time)."""
        if self.time_plan is None:
            return bool(t.eval_every) and step % t.eval_every == 0
        after = step - t.pretrain_steps
        return after == 0 or (after > 0 and after % t.eval_every == 0)

    def _revise_plan(self, step: int, seconds: float, elapsed: float, bar: Progress):
        """Time the steps of the current phase; after plan.REVISE_AFTER of them, revise its steps with their
        rate (plan.revise), once per phase, and print the new plan. Returns the (maybe new) train config."""
        pretraining = step <= self.cfg.train.pretrain_steps
        phase = "pretrain" if pretraining else "autoenc"
        times = self._phase_times.setdefault(phase, [])
        times.append(seconds)
        # first after REVISE_AFTER steps, then every REVISE_EVERY: batches of other lengths come later in a phase
        if len(times) < plan.REVISE_AFTER or (len(times) - plan.REVISE_AFTER) % plan.REVISE_EVERY:
            return self.cfg.train
        first = phase not in self.time_plan.revised
        rate = sum(times[plan.REVISE_SKIP:]) / len(times[plan.REVISE_SKIP:])
        probe = (self.time_plan.minutes or 0) * 60 - self.time_plan.budget_s  # the probe's seconds: not in budget_s
        spent = self._seconds_before + elapsed - probe  # seconds into budget_s, earlier sessions of a resume too
        self.time_plan = plan.revise(self.time_plan, step=step, elapsed_s=spent, t_step=rate, pretraining=pretraining,
                                     max_steps=self._planned_max_steps)
        self.state["plan"] = self.time_plan.to_dict()
        t = dataclasses.replace(self.cfg.train, pretrain_steps=self.time_plan.pretrain_steps,
                                steps=self.time_plan.steps, eval_every=self.time_plan.eval_every)
        self.cfg = dataclasses.replace(self.cfg, train=t)
        bar.steps = t.steps
        if first:  # later revisions are in trainer_state.json's plan, not on the console
            self._print(f"revised after {len(times)} {'pretraining' if pretraining else 'auto-encoding'} steps at "
                        f"step {step}: " + self.time_plan.describe())
        if self.main:
            self.cfg.to_yaml(self.out / "config.yaml")
        return t

    def _probe(self) -> dict[str, float]:
        """Seconds per pretraining step, per auto-encoding step and per dev evaluation, measured without changing
        the run: forward and backward passes with no optimizer step (the discriminator's neither), gradients
        dropped, batches from iterators of their own, the random states and train/eval modes put back."""
        acc = self.accelerator
        modes, truncated = (self.model.training, self.disc.training), getattr(self.batches, "truncated", 0)
        times = {}
        with plan.kept_rng():
            docs = self.batches.iterate(0)
            reals = self.real_batches.iterate(0) if self.real_batches is not None else None
            for name, pretrain in (("t_pretrain", True), ("t_autoenc", False)):
                seconds = []
                for i in range(1 + plan.PROBE_STEPS):  # the first run warms up (allocations, kernel choice)
                    begin = time.perf_counter()
                    self._probe_step(next(docs).to(acc.device), reals, torch.Generator().manual_seed(i), pretrain)
                    if acc.device.type == "cuda":
                        torch.cuda.synchronize()  # the step's kernels, not only their launch
                    seconds.append(time.perf_counter() - begin)
                times[name] = sum(seconds[1:]) / plan.PROBE_STEPS
            begin = time.perf_counter()
            if self.main:  # as in _evaluate: the main process evaluates, the others wait
                with acc.autocast():
                    evaluate_dev(self._kept(), acc.unwrap_model(self.disc) if reals is not None else None,
                                 self.dev)
            times["t_eval"] = time.perf_counter() - begin
        release_free_memory()  # the probe's batches of every width (summae/runtime.py)
        self.model.train(modes[0])
        self.disc.train(modes[1])
        if isinstance(self.batches, StreamBatches):
            self.batches.truncated = truncated  # the run counts its own truncated documents
        return times

    def _probe_step(self, doc_labels: torch.Tensor, reals, gen: torch.Generator, pretrain: bool) -> None:
        """train_step's forward and backward passes, discriminator's included, without an update: its time only."""
        t, acc = self.cfg.train, self.accelerator
        self.model.train()
        b = self._batch(0, doc_labels, gen, pretrain=pretrain)
        loss, out, fake = self._generator_loss(b, {})
        use_d = reals is not None and t.adv_weight > 0
        if use_d:
            for _ in range(t.d_steps):
                acc.backward(self._d_loss(next(reals).to(acc.device), fake)[0])
            if not pretrain and t.straight_through:
                loss = loss + t.adv_weight * self._adv_loss(out)
        acc.backward(loss)
        # no clip_grad_norm_: under fp16 it would unscale, which the loss scaler counts until an optimizer step
        self.model.zero_grad(set_to_none=True)
        self.disc.zero_grad(set_to_none=True)
