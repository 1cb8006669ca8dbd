"""train.pretrain_share: a train.minutes budget planned as phases (summae.train.plan). The arithmetic on
hand-made numbers, the config checks, a tiny run that follows its printed plan (and keeps it on --resume), and a
measurement that leaves the run as it would have been without it."""

import json
import random

import pytest
import torch
import yaml
from conftest import REPO, TINY, run_captured, shown_lines

from summae.config import load_config, shipped_configs
from summae.errors import SummaeError
from summae.train.plan import SAFETY, make_plan

PLANNED = ["tokenizer.train_sentences=400", "train.sample_every=0", "train.minutes=1", "train.pretrain_share=0.4",
           "train.steps=8"]  # 8 steps cap the 1-minute plan: the run is seconds long, its safety stop far away


# ---------------------------------------------------------------- the arithmetic


def test_each_phase_gets_its_share_less_its_evaluations():
    # 300 s: pretraining 120 s, auto-encoding 180 s. Auto-encoding: (180 - 4 evaluations x 5 s) / 0.5 = 320 steps,
    # an evaluation every 320 // 4 = 80 steps; pretraining: (120 - 1 evaluation x 5 s) / 0.25 = 460 steps
    plan = make_plan(budget_s=300, share=0.4, t_pretrain=0.25, t_autoenc=0.5, t_eval=5, evaluations=4,
                     max_steps=100_000, minutes=5.0)
    assert (plan.pretrain_steps, plan.steps, plan.eval_every, plan.capped) == (460, 780, 80, False)
    pretrain_s, autoenc_s = plan.phase_seconds()
    assert pretrain_s == 460 * 0.25 + 5 == 120  # its one evaluation, at the switch
    assert autoenc_s == 320 * 0.5 + 4 * 5 == 180  # 80, 160, 240 steps after the switch and the final one


def test_train_steps_caps_both_phases_alike():
    plan = make_plan(budget_s=300, share=0.4, t_pretrain=0.25, t_autoenc=0.5, t_eval=5, evaluations=4,
                     max_steps=352, minutes=5.0)
    assert (plan.pretrain_steps, plan.steps, plan.eval_every, plan.capped) == (208, 352, 36, True)


@pytest.mark.parametrize("budget_s, max_steps", [(0, 1000), (-30, 1000), (1000, 2)])
def test_each_phase_gets_a_step_at_least(budget_s, max_steps):
    plan = make_plan(budget_s=budget_s, share=0.9, t_pretrain=1, t_autoenc=1, t_eval=10, max_steps=max_steps)
    assert plan.pretrain_steps >= 1 and plan.steps - plan.pretrain_steps >= 1 and plan.eval_every >= 1
    assert plan.steps <= max_steps


def test_the_plan_is_one_line_with_its_numbers():
    plan = make_plan(budget_s=300, share=0.4, t_pretrain=0.25, t_autoenc=0.5, t_eval=5, evaluations=4,
                     max_steps=100_000, minutes=5.0)
    line = plan.describe()
    assert "\n" not in line
    for part in ("train.minutes 5.0", "pretraining 0.25 s/step", "auto-encoding 0.5 s/step", "an evaluation 5 s",
                 "pretraining 460 steps (2.0 min, 40%)", "auto-encoding 320 steps (3.0 min, 60%)", "every 80 steps",
                 "ends at step 780",
                 f"{SAFETY * 5:g} min"):
        assert part in line, part


# ---------------------------------------------------------------- the config


@pytest.mark.parametrize("sets, words", [
    (["train.minutes=5", "train.pretrain_share=0"], "train.pretrain_share must be in \\(0, 1\\)"),
    (["train.minutes=5", "train.pretrain_share=1"], "train.pretrain_share must be in \\(0, 1\\)"),
    (["train.pretrain_share=0.4"], "train.pretrain_share .*train.minutes"),  # tiny.yaml: minutes null
    (["train.minutes=5", "train.pretrain_share=0.4", "train.steps=1"], "train.steps must be >= 2"),
])
def test_bad_shares_are_one_line_errors(sets, words):
    with pytest.raises(SummaeError, match=words):
        load_config(TINY, sets)


def test_the_shipped_configs_load_and_the_demo_plans_its_minutes():
    for name in shipped_configs():
        load_config(name)
    load_config(REPO / "summae" / "data" / "ready" / "config.yaml")
    demo = load_config("demo").train
    assert demo.pretrain_share == 0.7 and demo.minutes == 8.0
    assert load_config(TINY).train.pretrain_share is None  # the default: configured steps, minutes a clock stop


# ---------------------------------------------------------------- a planned run


@pytest.fixture(scope="module")
def planned(tmp_path_factory):
    run = tmp_path_factory.mktemp("planned") / "run"
    argv = ["train", "--config", TINY, "--output-dir", run, "--quiet"]
    code, out, err = run_captured(argv + [a for item in PLANNED for a in ("--set", item)])
    assert code == 0, err
    return {"dir": run, "err": err, "argv": argv,
            "state": json.loads((run / "last" / "trainer_state.json").read_text(encoding="utf-8"))}


def test_a_planned_run_prints_its_plan_and_ends_at_the_planned_step(planned):
    plan = planned["state"]["plan"]
    lines = [line for line in shown_lines(planned["err"]) if line.startswith("time plan for train.minutes 1.0")]
    assert len(lines) == 1 and f"training ends at step {plan['steps']}" in lines[0]
    assert plan["steps"] == planned["state"]["step"] == 8 and plan["capped"]  # 8 = train.steps: the cap
    assert 1 <= plan["pretrain_steps"] < 8 and plan["eval_every"] >= 1
    assert min(plan["t_pretrain"], plan["t_autoenc"]) > 0


def test_a_planned_run_saves_the_planned_values_as_its_config(planned):
    plan = planned["state"]["plan"]
    for saved in (planned["dir"] / "config.yaml", planned["dir"] / "last" / "config.yaml"):
        train = yaml.safe_load(saved.read_text(encoding="utf-8"))["train"]
        assert (train["pretrain_steps"], train["steps"], train["eval_every"]) == (
            plan["pretrain_steps"], plan["steps"], plan["eval_every"])
        assert train["pretrain_share"] == 0.4 and train["minutes"] == 1.0
    rows = [json.loads(line) for line in (planned["dir"] / "metrics.jsonl").read_text(encoding="utf-8").splitlines()]
    evaluated = [r["step"] for r in rows if "dev/score" in r]
    after = plan["pretrain_steps"]  # once at the end of pretraining, then every eval_every steps from there
    assert evaluated == [s for s in range(1, 9) if s == 8 or (s >= after and (s - after) % plan["eval_every"] == 0)]


def test_a_resumed_run_keeps_its_plan_without_measuring_again(planned, tmp_path, monkeypatch):
    import shutil

    from summae.train.trainer import Trainer

    run = tmp_path / "run"
    shutil.copytree(planned["dir"], run)

    def no_probe(self):
        raise AssertionError("a resumed run measured again")

    monkeypatch.setattr(Trainer, "_probe", no_probe)
    sets = [*PLANNED[:-1], "train.steps=50"]  # a plan's steps end the run, whatever train.steps says
    code, _, err = run_captured(["train", "--config", TINY, "--output-dir", run, "--quiet", "--resume",
                                 *[a for item in sets for a in ("--set", item)]])
    assert code == 0, err
    state = json.loads((run / "last" / "trainer_state.json").read_text(encoding="utf-8"))
    assert state["plan"] == planned["state"]["plan"] and state["step"] == 8
    assert sum(line.startswith("time plan for") for line in shown_lines(err)) == 1


# ---------------------------------------------------------------- the measurement changes nothing


def _tensors(*modules) -> dict[str, torch.Tensor]:
    return {f"{i}.{name}": t.detach().clone() for i, m in enumerate(modules)
            for name, t in [*m.named_parameters(), *m.named_buffers()]}


def test_the_measurement_leaves_weights_gradients_and_random_state_alone(tmp_path):
    from summae.train.trainer import Trainer

    cfg = load_config(TINY, PLANNED)
    trainer = Trainer(cfg, tmp_path / "run", device="cpu", echo=lambda _: None, progress=False)
    model, disc = trainer._unwrapped(), trainer.accelerator.unwrap_model(trainer.disc)
    before, torch_rng, py_rng = _tensors(model, disc), torch.get_rng_state(), random.getstate()
    times = trainer._probe()
    assert set(times) == {"t_pretrain", "t_autoenc", "t_eval"} and min(times.values()) > 0
    after = _tensors(model, disc)
    assert after.keys() == before.keys() and all(torch.equal(after[k], before[k]) for k in before)
    assert all(p.grad is None for m in (model, disc) for p in m.parameters())
    assert torch.equal(torch.get_rng_state(), torch_rng) and random.getstate() == py_rng
    assert model.training and disc.training


def test_a_planned_run_trains_the_weights_of_the_same_steps_unplanned(planned, tmp_path):
    """The measurement before the loop draws no random numbers the run would have drawn, moves no weight."""
    from safetensors.torch import load_file

    plan, run = planned["state"]["plan"], tmp_path / "unplanned"
    sets = ["tokenizer.train_sentences=400", "train.sample_every=0", f"train.steps={plan['steps']}",
            f"train.pretrain_steps={plan['pretrain_steps']}", f"train.eval_every={plan['eval_every']}"]
    code, _, err = run_captured(planned["argv"][:3] + ["--output-dir", run, "--quiet"]
                                + [a for item in sets for a in ("--set", item)])
    assert code == 0, err
    files = sorted(p.relative_to(run) for p in (run / "last").rglob("*.safetensors"))
    assert files
    for name in files:
        a, b = load_file(planned["dir"] / name), load_file(run / name)
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), name


def test_revise_keeps_each_phase_at_its_share_with_the_measured_rate():
    from summae.train import plan

    # the probe said 1.0 s a pretraining step; the run takes 0.25: the phase gets 4x the steps, still 60 s
    first = plan.make_plan(budget_s=100.0, share=0.6, t_pretrain=1.0, t_autoenc=0.5, t_eval=0.0, max_steps=10_000)
    assert (first.pretrain_steps, first.steps) == (60, 140)
    fixed = plan.revise(first, step=30, elapsed_s=15.0, t_step=0.25, pretraining=True, max_steps=10_000)
    assert fixed.pretrain_steps == 30 + 180 and fixed.steps == 210 + 80 and fixed.revised == ("pretrain",)
    assert fixed.t_pretrain == 0.25
    # 30 auto-encoding steps in, at 1.0 s a step (not 0.5): the 40 s left hold 40 steps in all, to 100 s
    again = plan.revise(fixed, step=240, elapsed_s=90.0, t_step=1.0, pretraining=False, max_steps=10_000)
    assert again.steps == 250 and again.revised == ("pretrain", "autoenc") and again.eval_every == 10
    # a phase already past its time ends now; the cap holds
    late = plan.revise(first, step=30, elapsed_s=80.0, t_step=0.25, pretraining=True, max_steps=100)
    assert late.pretrain_steps == 30 and late.steps <= 100


def test_the_learning_rate_decays_to_lr_end_over_pretraining_and_stays_there():
    from summae.train.optim import lr_factor

    cfg = load_config(TINY, ["train.warmup_steps=10", "train.pretrain_steps=110", "train.lr_end=0.1"])
    factor = lambda step: lr_factor(cfg.train, step)  # noqa: E731
    assert factor(0) == pytest.approx(0.1) and factor(9) == pytest.approx(1.0)  # warm-up
    assert factor(59) == pytest.approx(0.55)  # half-way through the decay
    assert factor(109) == pytest.approx(0.1) and factor(500) == pytest.approx(0.1)
    flat = load_config(TINY, ["train.warmup_steps=10", "train.pretrain_steps=110"])
    assert lr_factor(flat.train, 300) == 1.0  # the default: constant after the warm-up


def test_the_phase_learning_rate_is_a_step_change_at_the_end_of_pretraining():
    from summae.train.optim import lr_factor

    cfg = load_config(TINY, ["train.warmup_steps=10", "train.pretrain_steps=110", "train.phase_lr=0.3"])
    factor = lambda step: lr_factor(cfg.train, step)  # noqa: E731
    assert factor(59) == 1.0 and factor(109) == 1.0  # pretraining keeps the full rate (lr_end 1.0)
    assert factor(110) == pytest.approx(0.3) and factor(900) == pytest.approx(0.3)  # the phase, from its first step
    both = load_config(TINY, ["train.warmup_steps=10", "train.pretrain_steps=110", "train.lr_end=0.5",
                              "train.phase_lr=0.2"])
    assert lr_factor(both.train, 109) == pytest.approx(0.5)  # the decay still ends at lr_end
    assert lr_factor(both.train, 110) == pytest.approx(0.2)
    for bad in ("0", "1.5", "-0.3"):
        with pytest.raises(SummaeError, match="train.phase_lr must be in"):
            load_config(TINY, [f"train.phase_lr={bad}"])


def test_phase_lr_step_gives_a_distill_only_arm_the_recipes_learning_rates():
    from summae.train.optim import lr_factor

    # the distill-only arm: no phase (pretrain_steps = steps), the rate still steps down where the recipe's phase begins
    cfg = load_config(TINY, ["train.warmup_steps=10", "train.steps=300", "train.pretrain_steps=300",
                             "train.phase_lr=0.3", "train.phase_lr_step=110"])
    factor = lambda step: lr_factor(cfg.train, step)  # noqa: E731
    assert factor(109) == 1.0 and factor(110) == pytest.approx(0.3) and factor(299) == pytest.approx(0.3)
    # without phase_lr it changes nothing
    plain = load_config(TINY, ["train.warmup_steps=10", "train.pretrain_steps=300", "train.phase_lr_step=110"])
    assert lr_factor(plain.train, 200) == 1.0
    with pytest.raises(SummaeError, match="train.phase_lr_step must be >= 0"):
        load_config(TINY, ["train.phase_lr_step=-1"])


@pytest.mark.parametrize("decay", ["1", "-0.1", "1.5"])
def test_an_ema_decay_outside_0_1_is_one_line(decay):
    with pytest.raises(SummaeError, match=r"train.ema_decay must be in \[0, 1\)"):
        load_config(TINY, [f"train.ema_decay={decay}"])
