"""A train.minutes budget planned as phases (train.pretrain_share): pseudo-summary pretraining steps, then
auto-encoding steps, with their evaluations, sized from measured seconds per step and per evaluation.

The plan's steps end training, so the budget does not stop wherever the clock happens to be (say, a few dozen
steps into the auto-encoder). train.minutes stays as a safety stop at SAFETY x the budget, for steps that run
slower than measured (a machine shared with other jobs). The trainer measures (Trainer._probe); make_plan here is
pure arithmetic.
"""

from __future__ import annotations

import contextlib
import dataclasses
import random
from dataclasses import dataclass

import torch

EVALUATIONS = 4  # dev evaluations in the auto-encoding phase: best/ gets candidates after the switch
PROBE_STEPS = 3  # timed steps of each kind, after one warm-up step (allocations, kernel choice)
SAFETY = 1.5  # with a plan, train.minutes stops training only at this multiple of the budget
# the probe's few steps meet first-use costs (new batch shapes, allocations) and can be several times slower than
# the run: once a phase has run REVISE_AFTER steps, the plan is revised with their measured rate (the first
# REVISE_SKIP not counted), and each phase still ends at its share of the budget
REVISE_AFTER = 30
REVISE_EVERY = 100  # and again every this many steps of the phase, with the rate of all its timed steps
REVISE_SKIP = 5


@dataclass(frozen=True)
class Plan:
    pretrain_steps: int  # pseudo-summary pretraining steps (train.pretrain_steps)
    steps: int  # all steps, pretraining included (train.steps): training ends here
    eval_every: int  # steps between dev evaluations (train.eval_every), >= 1
    t_pretrain: float  # measured seconds per pretraining step
    t_autoenc: float  # measured seconds per auto-encoding step
    t_eval: float  # measured seconds per dev evaluation
    budget_s: float  # seconds planned: train.minutes less the measurement's own time
    share: float  # train.pretrain_share: pretraining's share of budget_s
    minutes: float | None = None  # train.minutes, for the printed line
    capped: bool = False  # train.steps cut the plan: training ends before the budget is spent
    revised: tuple[str, ...] = ()  # the phases whose steps were revised with their measured rate (revise())

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def phase_seconds(self) -> tuple[float, float]:
        """The two phases' expected seconds, their evaluations included."""
        autoenc = self.steps - self.pretrain_steps
        evals_autoenc = max(1, autoenc // self.eval_every)  # the final evaluation at the last step among them
        return (self.pretrain_steps * self.t_pretrain + self.t_eval,  # one evaluation, at the switch
                autoenc * self.t_autoenc + evals_autoenc * self.t_eval)

    def describe(self) -> str:
        """The plan in one line, printed at the start of training."""
        first, second = self.phase_seconds()
        whole = max(first + second, 1e-9)
        budget = f"train.minutes {self.minutes}" if self.minutes is not None else f"{self.budget_s / 60:.1f} min"
        stop = (f" (train.minutes stops it at {SAFETY * self.minutes:g} min if steps run slower than measured)"
                if self.minutes is not None else "")
        cap = ", cut to train.steps" if self.capped else ""
        return (f"time plan for {budget} (measured: pretraining {self.t_pretrain:.2g} s/step, auto-encoding "
                f"{self.t_autoenc:.2g} s/step, an evaluation {self.t_eval:.2g} s): pseudo-summary pretraining "
                f"{self.pretrain_steps} steps ({_duration(first)}, {first / whole:.0%}), then auto-encoding "
                f"{self.steps - self.pretrain_steps} steps ({_duration(second)}, {second / whole:.0%}){cap}, "
                f"evaluations every {self.eval_every} steps; training ends at step {self.steps}{stop}")


def _duration(seconds: float) -> str:
    return f"{seconds / 60:.1f} min" if seconds >= 60 else f"{seconds:.0f} s"


def _steps(seconds: float, per_step: float) -> int:
    # + 1e-6: 180 s at 0.5 s/step is 360 steps, though 0.6 * 300 is 179.99999999999997 in floats
    return max(0, int(seconds / max(per_step, 1e-9) + 1e-6))


def make_plan(*, budget_s: float, share: float, t_pretrain: float, t_autoenc: float, t_eval: float,
              evaluations: int = EVALUATIONS, max_steps: int, minutes: float | None = None) -> Plan:
    """Steps per phase for `budget_s` seconds, `share` of them pretraining: each phase's seconds less its
    evaluations' seconds, over its seconds per step. The pretraining phase is evaluated once, at its last step
    (the distilled student is a candidate for best/); the auto-encoding phase `evaluations` times (eval_every =
    its steps // evaluations, counted from the switch). Each phase gets a step at least; both shrink alike (keeping
    the shares) to fit max_steps."""
    budget_s = max(budget_s, 0.0)
    autoenc = _steps((1 - share) * budget_s - evaluations * t_eval, t_autoenc)
    every = max(1, autoenc // evaluations)
    pretrain = _steps(share * budget_s - t_eval, t_pretrain)  # one evaluation, at its last step
    pretrain, autoenc = max(1, pretrain), max(1, autoenc)
    capped = pretrain + autoenc > max_steps
    if capped:  # steps are proportional to time within a phase: the same factor on both keeps the time shares
        pretrain = min(max(1, round(pretrain * max_steps / (pretrain + autoenc))), max_steps - 1)
        autoenc = max_steps - pretrain
        every = max(1, autoenc // evaluations)
    return Plan(pretrain_steps=pretrain, steps=pretrain + autoenc, eval_every=every, t_pretrain=round(t_pretrain, 4),
                t_autoenc=round(t_autoenc, 4), t_eval=round(t_eval, 4), budget_s=round(budget_s, 2), share=share,
                minutes=minutes, capped=capped)


def revise(p: Plan, *, step: int, elapsed_s: float, t_step: float, pretraining: bool,
           evaluations: int = EVALUATIONS, max_steps: int) -> Plan:
    """The plan from `step` on, `elapsed_s` seconds into budget_s, with the phase's measured seconds per step
    t_step: pretraining still ends at share x budget_s, and the auto-encoding phase at budget_s."""
    if pretraining:
        left = p.share * p.budget_s - elapsed_s - p.t_eval  # the evaluation at the switch is still to come
        pretrain = max(step, step + _steps(left, t_step))
        autoenc = p.steps - p.pretrain_steps  # the probe's estimate, until that phase is revised in turn
        p = dataclasses.replace(p, t_pretrain=round(t_step, 4), pretrain_steps=pretrain,
                                revised=_with(p.revised, "pretrain"))
    else:
        pretrain = p.pretrain_steps
        left = p.budget_s - elapsed_s - evaluations * p.t_eval
        autoenc = max(step - pretrain + 1, step - pretrain + _steps(left, t_step))
        p = dataclasses.replace(p, t_autoenc=round(t_step, 4), revised=_with(p.revised, "autoenc"))
    steps = min(pretrain + max(1, autoenc), max_steps)
    every = max(1, (steps - min(pretrain, steps)) // evaluations)
    return dataclasses.replace(p, steps=steps, eval_every=every, capped=p.capped or steps == max_steps)


def _with(phases: tuple[str, ...], phase: str) -> tuple[str, ...]:
    return phases if phase in phases else (*phases, phase)


@contextlib.contextmanager
def kept_rng():
    """Put python's and torch's random states back afterwards: a measurement does not change the run's draws."""
    state = random.getstate(), torch.get_rng_state()
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() and torch.cuda.is_initialized() else None
    try:
        yield
    finally:
        random.setstate(state[0])
        torch.set_rng_state(state[1])
        if cuda is not None:
            torch.cuda.set_rng_state_all(cuda)
