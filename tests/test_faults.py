"""Faults, each one really done: resume bit-identity, NaN/inf losses and gradients, collapsed GANs, a full disk
during a checkpoint write, truncated or tampered weight files, pickles that must never be unpickled, and
(slow) kill -9 of a real training subprocess at five moments."""

import errno
import hashlib
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from conftest import REPO, TINY, TINY_RUN_SETS, run_captured, shown_lines
from safetensors.torch import load_file

from summae import checkpoint
from summae.config import TrainConfig, load_config
from summae.train.guards import FaultGuard
from summae.model.autoencoder import SummaeModel
from summae.train.trainer import Trainer

NAN = float("nan")


@pytest.fixture(scope="module")
def fast(tiny_run, tmp_path_factory) -> list[str]:
    """--set items for short fault runs: the shared run's tokenizer (no SentencePiece training), 100 training
    documents instead of 5,500 to tokenize, no sample tables, a small dev set."""
    docs = tmp_path_factory.mktemp("fast") / "docs.jsonl"
    with open(REPO / "summae/data/debian/train.jsonl", encoding="utf-8") as handle:
        docs.write_text("".join(next(handle) for _ in range(100)), encoding="utf-8")
    return [f"tokenizer.path={tiny_run['dir'] / 'last' / 'compressor'}", f"data.train_files=[{docs}]",
            "train.sample_every=0", "train.eval_every=0", "data.dev_size=4", "train.log_every=1"]


def make_trainer(fast, out, *sets, resume=False) -> Trainer:
    cfg = load_config(TINY, [*fast, *sets])
    return Trainer(cfg, out, resume=resume, device="cpu", echo=lambda s: None, progress=False)


def rows(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text(encoding="utf-8").splitlines()]


def fault_rows(run_dir: Path) -> list[dict]:
    return [r for r in rows(run_dir) if "fault/message" in r]


def step_of(ckpt: Path) -> int:
    return json.loads((ckpt / "trainer_state.json").read_text(encoding="utf-8"))["step"]


def weights(ckpt: Path) -> dict[str, torch.Tensor]:
    """Every tensor of every safetensors file of a checkpoint, keyed by file and name."""
    out = {}
    for path in sorted(Path(ckpt).rglob("*.safetensors")):
        for name, tensor in load_file(str(path)).items():
            out[f"{path.relative_to(ckpt)}:{name}"] = tensor
    return out


def training_tensors(ckpt: Path) -> dict[str, object]:
    """training_state.pt flattened to leaves (optimizer moments, step counts, scheduler fields, RNG)."""
    blob = torch.load(Path(ckpt) / checkpoint.TRAINING_STATE, weights_only=True)
    flat = {}

    def walk(prefix, node):
        if isinstance(node, dict):
            for key, value in node.items():
                walk(f"{prefix}/{key}", value)
        elif isinstance(node, (list, tuple)):
            for i, value in enumerate(node):
                walk(f"{prefix}/{i}", value)
        else:
            flat[prefix] = node

    walk("", blob)
    return flat


def assert_same_checkpoint(a: Path, b: Path, *, with_training_state: bool = True) -> None:
    wa, wb = weights(a), weights(b)
    assert wa.keys() == wb.keys() and wa
    differ = [k for k in wa if not torch.equal(wa[k], wb[k])]
    assert not differ, f"{len(differ)} of {len(wa)} tensors differ, e.g. {differ[:3]}"
    if with_training_state:
        ta, tb = training_tensors(a), training_tensors(b)
        assert ta.keys() == tb.keys()
        differ = [k for k in ta if not (torch.equal(ta[k], tb[k]) if isinstance(ta[k], torch.Tensor)
                                        else ta[k] == tb[k])]
        assert not differ, f"training state differs: {differ[:5]}"


# ---------------------------------------------------------------- resume is bit-identical


def train_then_resume(run: Path, sets: list[str]) -> None:
    """tiny.yaml with `sets` for 3 steps, then --resume to its 6."""
    args = ["train", "--config", TINY, "--output-dir", run, "--quiet", *[a for item in sets for a in ("--set", item)]]
    code, _, err = run_captured([*args, "--set", "train.steps=3"])
    assert code == 0, err
    code, _, err = run_captured([*args, "--resume"])
    assert code == 0, err
    assert step_of(run / "last") == 6


def test_resume_gives_bit_identical_weights_and_optimizer_state(tiny_run, tmp_path):
    """3 steps, then --resume to 6, against the shared uninterrupted 6-step run (same config and seed).

    Dropout is 0 in tiny.yaml, but sampling, word dropout and length targets all draw random numbers."""
    run = tmp_path / "split"
    train_then_resume(run, TINY_RUN_SETS)
    assert_same_checkpoint(run / "last", tiny_run["dir"] / "last")


def test_the_weight_average_is_what_is_saved_and_resumes_bit_identical(tmp_path):
    """train.ema_decay: last/'s weights are the average's, not the live ones (those are in the training state), and
    3 steps + --resume to 6 give the uninterrupted run's average, live weights and optimizer state."""
    sets = [*TINY_RUN_SETS, "train.ema_decay=0.5"]
    whole, split = tmp_path / "whole", tmp_path / "split"
    code, _, err = run_captured(["train", "--config", TINY, "--output-dir", whole, "--quiet",
                                 *[a for item in sets for a in ("--set", item)]])
    assert code == 0, err
    train_then_resume(split, sets)
    assert_same_checkpoint(split / "last", whole / "last")
    saved = load_file(str(whole / "last" / "compressor" / "model.safetensors"))
    blob = torch.load(whole / "last" / checkpoint.TRAINING_STATE, weights_only=True)
    assert int(blob["average"]["n_averaged"]) == 6
    live, average = blob["generator"], blob["average"]
    moved = [k for k in saved if not torch.equal(saved[k], live[f"compressor.{k}"])]
    assert moved, "the saved compressor is the live one, not the average"
    assert all(torch.equal(saved[k], average[f"module.compressor.{k}"]) for k in saved)


def test_the_weight_average_warms_up_before_its_decay():
    from summae.train.keeper import ema_decay_at, ema_update

    def at(updates: int) -> float:
        return float(ema_decay_at(0.999, torch.tensor(updates)))

    assert at(0) == pytest.approx(0.1)  # the second weights count 0.9: the first fade at once
    assert at(1000) == pytest.approx(1001 / 1010)
    assert at(10 ** 6) == pytest.approx(0.999)
    averaged, current = [torch.zeros(3), torch.full((2,), 4.0)], [torch.ones(3), torch.zeros(2)]
    ema_update(averaged, current, torch.tensor(10 ** 6), decay=0.5)
    assert torch.equal(averaged[0], torch.full((3,), 0.5)) and torch.equal(averaged[1], torch.full((2,), 2.0))


def test_trim_metrics_drops_rows_after_the_checkpoint_and_a_cut_line(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text("".join(json.dumps({"step": s, "loss/rec": 1.0}) + "\n" for s in range(1, 6)) + '{"step": 6, "lo',
                    encoding="utf-8")
    checkpoint.trim_metrics(path, 3)
    assert [json.loads(line)["step"] for line in path.read_text().splitlines()] == [1, 2, 3]
    checkpoint.trim_metrics(path, 0)  # a fresh start in a directory whose run died before any checkpoint
    assert path.read_text() == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.jsonl"]


# ---------------------------------------------------------------- the guard's decisions (pure)


def test_guard_skips_nonfinite_steps_then_stops_after_max_bad_steps():
    guard = FaultGuard(TrainConfig(on_nonfinite="skip", max_bad_steps=3, collapse_steps=0))
    actions = []
    for step in range(1, 5):
        guard.nonfinite("training loss", NAN)
        (fault,) = guard.end_step(step, {})
        actions.append(fault.action)
    assert actions == ["skip", "skip", "stop", "stop"]
    assert "the training loss was NaN" in fault.message and "3 steps in a row" not in fault.message
    assert guard.end_step(5, {}) == [] and guard.bad_in_a_row == 0  # a good step resets the count
    guard.nonfinite("generator gradient norm", float("inf"))
    assert guard.end_step(6, {})[0].message.startswith("step 6: the generator gradient norm was +inf")


@pytest.mark.parametrize("action", ["rollback", "lower_lr", "stop"])
def test_guard_passes_on_the_configured_nonfinite_action(action):
    guard = FaultGuard(TrainConfig(on_nonfinite=action))
    guard.nonfinite("discriminator loss", float("-inf"))
    (fault,) = guard.end_step(7, {})
    assert (fault.kind, fault.action, fault.step) == ("nonfinite", action, 7)
    assert fault.row() == {"fault/nonfinite": 1, "fault/action": action, "fault/message": fault.message}


def test_guard_sees_a_pinned_discriminator_and_identical_summaries_after_n_steps():
    guard = FaultGuard(TrainConfig(collapse_steps=3, collapse_acc=0.99, on_collapse="warn"))
    pinned = {"d/acc_real": 1.0, "d/acc_fake": 0.995, "summary/distinct": 8.0}
    same = {"d/acc_real": 0.6, "d/acc_fake": 0.7, "summary/distinct": 1.0}
    assert guard.end_step(1, pinned) == [] and guard.end_step(2, pinned) == []
    assert guard.end_step(3, {**pinned, "d/acc_real": 0.98}) == []  # a break in the streak starts it over
    found = [guard.end_step(s, pinned) for s in (4, 5, 6)]
    assert found[:2] == [[], []] and "discriminator" in found[2][0].message and found[2][0].action == "warn"
    assert [guard.end_step(s, same) for s in (7, 8)] == [[], []]
    (fault,) = guard.end_step(9, same)
    assert "same summary for every document" in fault.message
    restored = FaultGuard(TrainConfig(collapse_steps=3))
    restored.load_state_dict(json.loads(json.dumps(guard.state_dict())))  # through trainer_state.json
    assert restored.state_dict() == guard.state_dict()
    assert FaultGuard(TrainConfig(collapse_steps=0)).end_step(1, same) == []  # 0 = never check


# ---------------------------------------------------------------- real NaNs in real training


def poison_reconstructor(trainer: Trainer, steps: set[int], before=None) -> None:
    """Make the reconstructor's training logits NaN at the given (1-based) steps: a real NaN loss. The hook sits
    on its output head, which the training loss runs on the labelled positions only (reconstruction_loss)."""

    def hook(module, args, output):
        step = trainer.state["step"] + 1  # the step being trained
        if module.training and step in steps:
            if before is not None:
                before(step)
            return output * NAN
        return output

    trainer._unwrapped().reconstructor.get_output_embeddings().register_forward_hook(hook)


def test_a_resumed_run_reports_its_start_and_its_own_seconds(fast, tmp_path):
    first = make_trainer(fast, tmp_path / "run", "train.steps=2", "train.pretrain_steps=1").train()
    assert first["start_step"] == 0 and first["seconds_this_run"] == pytest.approx(first["train_seconds"], abs=0.05)
    later = make_trainer(fast, tmp_path / "run", "train.steps=4", "train.pretrain_steps=1", resume=True).train()
    assert later["start_step"] == 2 and later["step"] == 4
    # train_seconds goes on counting from the first run's; seconds_this_run is the resumed run's share alone
    assert later["seconds_this_run"] == pytest.approx(later["train_seconds"] - first["train_seconds"], abs=0.05)


def test_nan_loss_and_nan_gradient_skip_their_steps(fast, tmp_path, capsys):
    trainer = make_trainer(fast, tmp_path / "run", "train.steps=4", "train.pretrain_steps=1",
                           "train.save_every=0", "train.on_nonfinite=skip")
    poison_reconstructor(trainer, {2})
    model = trainer._unwrapped()
    first = next(model.compressor.parameters())
    first.register_hook(lambda g: g * NAN if trainer.state["step"] + 1 == 3 else g)  # a NaN gradient at step 3
    assert trainer.train()["step"] == 4
    faults = fault_rows(tmp_path / "run")
    assert [(r["step"], r["fault/action"]) for r in faults] == [(2, "skip"), (3, "skip")]
    assert "the training loss was NaN" in faults[0]["fault/message"]
    assert "the generator gradient norm was NaN" in faults[1]["fault/message"]
    assert "the update was skipped" in capsys.readouterr().err
    # AdamW counts only the updates it applied: 4 steps, 2 skipped
    assert trainer.opt_g.state[first]["step"].item() == 2
    assert trainer.state["faults"]["nonfinite"] == 2
    assert all(torch.isfinite(p).all() for p in model.parameters())


def test_nan_loss_with_rollback_restores_the_last_checkpoint(fast, tmp_path):
    run = tmp_path / "run"
    trainer = make_trainer(fast, run, "train.steps=3", "train.pretrain_steps=1", "train.save_every=2",
                           "train.on_nonfinite=rollback")
    model = trainer._unwrapped()

    def damage(step):
        shutil.copytree(run / "last", tmp_path / "last_at_2")  # what the rollback must bring back
        with torch.no_grad():
            next(model.compressor.parameters()).add_(1.0)  # weights that went bad before the NaN showed

    poison_reconstructor(trainer, {3}, before=damage)
    trainer.train()
    (fault,) = fault_rows(run)
    assert fault["step"] == 3 and fault["fault/action"] == "rollback"
    assert step_of(tmp_path / "last_at_2") == 2 and step_of(run / "last") == 3
    # the D update of step 3 and the damage are gone; optimizer and scheduler are step 2's again
    assert_same_checkpoint(run / "last", tmp_path / "last_at_2", with_training_state=False)
    saved, before = training_tensors(run / "last"), training_tensors(tmp_path / "last_at_2")
    for key in before:
        if not key.startswith(("/torch_rng", "/cuda_rng")):
            value, expected = saved[key], before[key]
            assert torch.equal(value, expected) if isinstance(value, torch.Tensor) else value == expected, key


def test_nan_loss_with_lower_lr_halves_both_rates_for_good(fast, tmp_path):
    trainer = make_trainer(fast, tmp_path / "run", "train.steps=3", "train.pretrain_steps=1",
                           "train.on_nonfinite=lower_lr", "train.lr=1e-3", "train.d_lr=2e-3")
    poison_reconstructor(trainer, {2})
    trainer.train()
    assert trainer.sched_g.get_last_lr()[0] == pytest.approx(5e-4)
    assert trainer.sched_d.get_last_lr()[0] == pytest.approx(1e-3)
    blob = torch.load(tmp_path / "run" / "last" / checkpoint.TRAINING_STATE, weights_only=True)
    assert blob["sched_g"]["base_lrs"] == [pytest.approx(5e-4)]  # --resume goes on at the lower rate
    assert [r["fault/action"] for r in fault_rows(tmp_path / "run")] == ["lower_lr"]


def test_nonfinite_steps_in_a_row_stop_training_in_one_line(fast, tmp_path, cli, monkeypatch):
    original = SummaeModel.reconstruction_loss
    calls = []

    def poisoned(self, one_hot, mask, doc_labels, **kwargs):  # every training forward from the 3rd step on is NaN
        loss = original(self, one_hot, mask, doc_labels, **kwargs)
        if self.training:
            calls.append(1)
            if len(calls) >= 3:
                loss = loss * NAN
        return loss

    monkeypatch.setattr(SummaeModel, "reconstruction_loss", poisoned)
    run = tmp_path / "run"
    sets = [*fast, "train.steps=8", "train.pretrain_steps=1", "train.save_every=2",
            "train.max_bad_steps=2"]
    code, out, err = cli("train", "--config", TINY, "--output-dir", run, "--quiet",
                         *[a for s in sets for a in ("--set", s)])
    assert code == 2
    lines = shown_lines(err)
    assert any("the training loss was NaN" in line for line in lines)  # step 3: reported, skipped
    last_line = lines[-1]
    assert last_line.startswith("summae train: error: step 4: the training loss was NaN")
    assert "2 steps in a row (train.max_bad_steps=2)" in last_line and "last/ holds step 2" in last_line
    assert "Traceback" not in err
    assert step_of(run / "last") == 2
    assert [r["fault/action"] for r in fault_rows(run)] == ["skip", "stop"]


# ---------------------------------------------------------------- forced collapses


def test_identical_summaries_are_reported_as_a_collapse_and_stop(fast, tmp_path, cli):
    # every document the same, one length target, greedy writing: the batch's summaries cannot differ
    doc = json.loads((REPO / "summae/data/debian/train.jsonl").open(encoding="utf-8").readline())["document"]
    docs = tmp_path / "same.jsonl"
    docs.write_text((json.dumps({"document": doc}) + "\n") * 40, encoding="utf-8")
    run = tmp_path / "run"
    sets = [*fast, f"data.train_files=[{docs}]", "data.real_files=[]", "train.steps=8",
            "train.pretrain_steps=1", "train.sample_temperature=0", "summary.ratio_min=0.5",
            "summary.ratio_max=0.5", "train.collapse_steps=2", "train.on_collapse=stop"]
    code, out, err = cli("train", "--config", TINY, "--output-dir", run, "--quiet",
                         *[a for s in sets for a in ("--set", s)])
    assert code == 2, err
    last_line = shown_lines(err)[-1]
    assert last_line.startswith("summae train: error: step 3: GAN collapse: the compressor wrote the same summary")
    assert "Traceback" not in err
    (fault,) = fault_rows(run)
    assert fault["step"] == 3 and fault["fault/collapse"] == 1 and fault["fault/action"] == "stop"
    assert [r["summary/distinct"] for r in rows(run) if "summary/distinct" in r] == [1.0, 1.0]


def test_a_pinned_discriminator_is_reported_and_lowers_the_learning_rates(fast, tmp_path, capsys):
    # real texts that are one repeated line, and a fast D: it tells them from any summary within a few steps
    real = tmp_path / "real.txt"
    real.write_text("zz qq zz qq\n" * 50, encoding="utf-8")
    trainer = make_trainer(fast, tmp_path / "run", f"data.real_files=[{real}]", "train.steps=6",
                           "train.pretrain_steps=1", "train.d_lr=0.05", "train.d_steps=3", "train.collapse_steps=2",
                           "train.on_collapse=lower_lr")
    trainer.train()
    faults = fault_rows(tmp_path / "run")
    assert faults and all(r["fault/action"] == "lower_lr" for r in faults)
    assert "the discriminator told real texts from generated summaries" in faults[0]["fault/message"]
    assert trainer.sched_d.base_lrs[0] == pytest.approx(0.05 / 2 ** len(faults))  # halved for good, once a fault
    assert "GAN collapse" in capsys.readouterr().err


# ---------------------------------------------------------------- a full disk during a checkpoint write


def test_disk_full_during_a_checkpoint_write_keeps_the_previous_checkpoint(fast, tmp_path, cli, monkeypatch):
    run = tmp_path / "run"
    original = checkpoint.save_module
    before = {}

    def full_disk(module, path):
        if ".last.tmp-" in str(path) and (run / "last").exists():  # the second last/ save: half written
            before.update({p: hashlib.sha256(p.read_bytes()).hexdigest() for p in (run / "last").rglob("*")
                           if p.is_file()})
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        original(module, path)

    monkeypatch.setattr(checkpoint, "save_module", full_disk)
    sets = [*fast, "train.steps=2", "train.pretrain_steps=1", "train.save_every=1"]
    code, out, err = cli("train", "--config", TINY, "--output-dir", run, "--quiet",
                         *[a for s in sets for a in ("--set", s)])
    assert code == 2
    (line,) = [x for x in shown_lines(err) if x.startswith("summae train: error:")]
    assert f"could not write the checkpoint {run / 'last'} at step 2: No space left on device" in line
    assert "the previous last/ is intact" in line and "Traceback" not in err
    after = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in (run / "last").rglob("*") if p.is_file()}
    assert before and after == before  # byte for byte
    assert not [p.name for p in run.iterdir() if p.name.startswith(".")]  # no .tmp-* or .old left
    monkeypatch.undo()
    docs = tmp_path / "docs.txt"
    docs.write_text("APT is the command-line package manager of Debian systems.\n", encoding="utf-8")
    code, out, err = cli("summarize", "--model", run / "last", "--input", docs, "--quiet")
    assert code == 0 and len(out.splitlines()) == 1, err


# ---------------------------------------------------------------- weights only through safetensors


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _rename_a_tensor(path: Path) -> None:
    """Tamper with the header: one tensor renamed, same length, so the file still parses."""
    data = path.read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    header = data[8: 8 + n].decode()
    tampered = header.replace("fc1.weight", "fc9.weight", 1)
    assert tampered != header
    path.write_bytes(data[:8] + tampered.encode() + data[8 + n:])


def _break_header_length(path: Path) -> None:
    data = path.read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    path.write_bytes(struct.pack("<Q", n + 7) + data[8:])


def _add_pickle(path: Path) -> None:
    torch.save({"weights": torch.zeros(1)}, path.parent / "pytorch_model.bin")


@pytest.mark.parametrize("damage, file, expected", [
    (_truncate, "compressor/model.safetensors", "is not a readable safetensors file"),
    (_break_header_length, "compressor/model.safetensors", "is not a readable safetensors file"),
    (_rename_a_tensor, "compressor/model.safetensors", "does not match its config.json"),
    (_add_pickle, "compressor/model.safetensors", "hold weights only as model.safetensors"),
    (_truncate, "compressor/copy_head.safetensors", "is not a readable safetensors file"),
])
def test_a_damaged_weights_file_is_one_line_naming_it(tiny_run, tmp_path, cli, damage, file, expected):
    ckpt = tmp_path / "ckpt"
    shutil.copytree(tiny_run["dir"] / "last", ckpt)
    damage(ckpt / file)
    docs = tmp_path / "docs.txt"
    docs.write_text("APT is the command-line package manager of Debian systems.\n", encoding="utf-8")
    code, out, err = cli("summarize", "--model", ckpt, "--input", docs, "--quiet")
    assert code == 2 and out == ""
    (line,) = shown_lines(err)
    assert line.startswith("summae summarize: error: ") and expected in line, line
    named = ckpt / ("compressor/pytorch_model.bin" if damage is _add_pickle else file)
    assert str(named) in line


def _pickle_that_writes(marker: Path) -> object:
    class Payload:
        def __reduce__(self):  # unpickling this calls open(marker, "w"): code execution in miniature
            return (open, (str(marker), "w"))

    return {"opt_g": Payload()}


def test_training_state_is_never_unpickled_outside_resume_and_only_as_tensors(tiny_run, tmp_path, cli):
    run = tmp_path / "run"
    shutil.copytree(tiny_run["dir"], run)
    marker = tmp_path / "pwned"
    torch.save(_pickle_that_writes(marker), run / "last" / checkpoint.TRAINING_STATE)
    docs = tmp_path / "docs.txt"
    docs.write_text("APT is the command-line package manager of Debian systems.\n", encoding="utf-8")
    # summarizing (and starting a new run from these weights) never reads training_state.pt
    code, out, err = cli("summarize", "--model", run / "last", "--input", docs, "--quiet")
    assert code == 0, err
    # --resume of this very run reads it, with weights_only: the payload is refused, not run
    sets = [a for s in TINY_RUN_SETS for a in ("--set", s)]
    code, out, err = cli("train", "--config", TINY, "--output-dir", run, "--quiet", *sets, "--resume")
    assert code == 2
    (line,) = [x for x in shown_lines(err) if "error" in x]
    assert "never unpickled" in line and "Traceback" not in err
    assert line.startswith(f"summae train: error: cannot resume from {run / 'last' / checkpoint.TRAINING_STATE}")
    assert not marker.exists()


def test_resume_with_a_truncated_discriminator_is_one_line(tiny_run, tmp_path, cli):
    run = tmp_path / "run"
    shutil.copytree(tiny_run["dir"], run)
    _truncate(run / "last" / "discriminator.safetensors")
    sets = [a for s in TINY_RUN_SETS for a in ("--set", s)]
    code, out, err = cli("train", "--config", TINY, "--output-dir", run, "--quiet", *sets, "--resume")
    assert code == 2 and "Traceback" not in err
    (line,) = [x for x in shown_lines(err) if "error" in x]
    assert str(run / "last" / "discriminator.safetensors") in line and "not a readable safetensors file" in line


# ---------------------------------------------------------------- kill -9 (slow: real subprocesses)

KILL_SETS = [*TINY_RUN_SETS, "train.steps=10", "train.pretrain_steps=2", "train.save_every=3", "train.eval_every=4",
             "train.log_every=1"]


def paused_train(argv: list[str]) -> int:
    """`summae train ARGV` that stops still, for a SIGKILL, at $PAUSE_AT (where:step) after printing PAUSED.

    where: step (between the D and the G update of that step), saved (right after last/ of that step was
    written), writing (inside the write of last/: in fill, after the discriminator file), eval (inside the dev
    evaluation of that step). Run in a subprocess by the kill test: `python -c` imports this module."""
    from summae import checkpoint as ckpt, cli
    from summae.train import keeper as keeper_module, trainer as trainer_module

    where, at = os.environ["PAUSE_AT"].split(":")
    at, Trainer_ = int(at), trainer_module.Trainer

    def pause():
        print(f"PAUSED {where} {at}", file=sys.stderr, flush=True)
        time.sleep(600)

    d_step, save, evaluate, evaluate_dev = (Trainer_._d_step, Trainer_._save, Trainer_._evaluate,
                                            keeper_module.evaluate_dev)
    save_module = ckpt.save_module

    def paused_d_step(self, real, fake):
        out = d_step(self, real, fake)
        if where == "step" and self.state["step"] + 1 == at:
            pause()
        return out

    def paused_save(self, name, elapsed):
        if where == "writing" and name == "last" and self.state["step"] == at:
            ckpt.save_module = lambda module, path: (save_module(module, path), pause())
        save(self, name, elapsed)
        if where == "saved" and name == "last" and self.state["step"] == at:
            pause()

    def paused_evaluate(self, step, logger, elapsed):
        if where == "eval" and step == at:
            keeper_module.evaluate_dev = lambda *a, **k: (evaluate_dev(*a, **k), pause())[0]
        return evaluate(self, step, logger, elapsed)

    Trainer_._d_step, Trainer_._save, Trainer_._evaluate = paused_d_step, paused_save, paused_evaluate
    return cli.main(["train", *argv])


def _launch(argv: list[str], log: Path, pause_at: str | None = None) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO / "tests"), "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    if pause_at is None:
        command = [sys.executable, "-m", "summae.cli", "train", *argv]
    else:
        env["PAUSE_AT"] = pause_at
        command = [sys.executable, "-c", "import sys, test_faults; sys.exit(test_faults.paused_train(sys.argv[1:]))",
                   *argv]
    return subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=open(log, "w"))


def _kill_when_paused(proc: subprocess.Popen, log: Path, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while "PAUSED" not in log.read_text(errors="replace"):
        if proc.poll() is not None:
            pytest.fail(f"the run ended ({proc.returncode}) before its pause:\n{log.read_text()[-3000:]}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"no pause within {timeout} s:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)
    os.kill(proc.pid, signal.SIGKILL)  # kill -9: no handler, no cleanup, no flush
    proc.wait()
    assert proc.returncode == -signal.SIGKILL


@pytest.mark.slow
def test_kill_9_at_five_moments_then_resume_gives_the_uninterrupted_weights(tmp_path, cli):
    """One run killed five times (early, mid-step, right after a save, inside a checkpoint write, inside an
    evaluation), restarted after each kill, ends bit-identical to an uninterrupted run of the same config."""
    sets = [a for s in KILL_SETS for a in ("--set", s)]
    base_dir, run = tmp_path / "uninterrupted", tmp_path / "killed"
    base = _launch(["--config", str(TINY), "--output-dir", str(base_dir), "--quiet", *sets], tmp_path / "base.log")
    docs = tmp_path / "docs.txt"
    docs.write_text("APT is the command-line package manager of Debian systems.\nA library for XML.\n")
    # (pause point, last/ step after the kill): the checkpoint a restart must go on from
    moments = [("step:2", None), ("step:5", 3), ("saved:6", 6), ("writing:9", 6), ("eval:8", 6)]
    for i, (pause_at, expected) in enumerate(moments):
        resume = (run / "last" / "trainer_state.json").exists()
        argv = ["--config", str(TINY), "--output-dir", str(run), "--quiet", *sets, *(["--resume"] if resume else [])]
        log = tmp_path / f"kill{i}.log"
        _kill_when_paused(_launch(argv, log, pause_at), log)
        if expected is None:  # killed before the first checkpoint: nothing to resume, a fresh start follows
            assert not (run / "last").exists()
            continue
        assert step_of(run / "last") == expected, pause_at  # no step lost beyond the last checkpoint
        if pause_at.startswith("writing"):
            assert list(run.glob(".last.tmp-*")), "the kill should have landed inside write_atomic"
        code, out, err = cli("summarize", "--model", run / "last", "--input", docs, "--quiet")
        assert code == 0 and len(out.splitlines()) == 2, (pause_at, err)
    final = _launch(["--config", str(TINY), "--output-dir", str(run), "--quiet", *sets, "--resume"],
                    tmp_path / "final.log")
    assert final.wait(timeout=900) == 0, (tmp_path / "final.log").read_text()[-3000:]
    assert base.wait(timeout=900) == 0, (tmp_path / "base.log").read_text()[-3000:]
    assert step_of(run / "last") == step_of(base_dir / "last") == 10
    assert_same_checkpoint(run / "last", base_dir / "last")  # weights, optimizer, schedulers and RNG
    assert_same_checkpoint(run / "best", base_dir / "best", with_training_state=False)
    assert not list(run.glob(".*"))  # no temporary or .old directory left behind
    train_steps = [r["step"] for r in rows(run) if "loss/rec" in r]
    assert train_steps == list(range(1, 11))  # metrics.jsonl: each step once, no half-written line
