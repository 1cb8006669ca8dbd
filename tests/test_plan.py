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
    # an evaluation every 320 // 4 = 80 steps; pretraining: 120 / (0.25 + 5 / 80) = 384 steps (and 4 evaluations)
    plan = make_plan(budget_s=300, share=0.4, t_pretrain=0.25, t_autoenc=0.5, t_eval=5, evaluations=4,
                     max_steps=100_000, minutes=5.0)
    assert (plan.pretrain_steps, plan.steps, plan.eval_every, plan.capped) == (384, 704, 80, False)
    pretrain_s, autoenc_s = plan.phase_seconds()
    assert pretrain_s == 384 * 0.25 + 4 * 5 <= 120
    assert autoenc_s == 320 * 0.5 + 5 * 5  # the final evaluation at step 704 besides 4 at multiples of 80


def test_train_steps_caps_both_phases_alike():
    plan = make_plan(budget_s=300, share=0.4, t_pretrain=0.25, t_autoenc=0.5, t_eval=5, evaluations=4,
                     max_steps=352, minutes=5.0)
    assert (plan.pretrain_steps, plan.steps, plan.eval_every, plan.capped) == (192, 352, 40, True)


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
                 "pretraining 384 steps (1.9 min, 39%)", "auto-encoding 320 steps (3.1 min, 61%)", "every 80 steps",
                 "ends at step 704",
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
    assert demo.pretrain_share == 0.4 and demo.minutes == 5.0
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
    assert evaluated == [s for s in range(1, 9) if s % plan["eval_every"] == 0 or s == 8]


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
