"""The trainer on summae/configs/tiny.yaml: weights move, the run directory is complete, resume continues the count,
a second run in the same directory is refused, and training without real texts works."""

import json
import warnings
from pathlib import Path

import pytest
import torch
from conftest import TINY, TINY_RUN_SETS, run_captured, shown_lines
from hypothesis import given, settings
from hypothesis import strategies as st

from summae.config import load_config
from summae.train.metrics import MetricLogger
from summae.train.trainer import Trainer

SMALL = ["tokenizer.train_sentences=400", "train.sample_every=0"]  # shrink the tokenizer sample, no sample tables
CHECKPOINT_FILES = ("config.yaml", "compressor", "reconstructor", "discriminator.safetensors", "trainer_state.json")


def metrics(run_dir: Path) -> list[dict]:
    lines = (run_dir / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def state(checkpoint: Path) -> dict:
    return json.loads((checkpoint / "trainer_state.json").read_text(encoding="utf-8"))


def train(run_dir, *sets, resume=False):
    argv = ["train", "--config", TINY, "--output-dir", run_dir, "--quiet"]
    for item in [*SMALL, *sets]:
        argv += ["--set", item]
    return run_captured(argv + (["--resume"] if resume else []))


# ---------------------------------------------------------------- weights move


def _snapshot(module) -> dict[str, torch.Tensor]:
    return {name: p.detach().clone() for name, p in module.named_parameters()}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A Trainer run of 3 steps (1 lead-pretraining, 2 main-phase), weights captured before and after.

    Weight decay is off, so a parameter only moves if a gradient reached it.
    """
    cfg = load_config(TINY, [*SMALL, "train.steps=3", "train.pretrain_steps=1", "train.weight_decay=0",
                             "train.log_every=1", "train.eval_every=0", "train.save_every=0"])
    said = []
    trainer = Trainer(cfg, tmp_path_factory.mktemp("trained") / "run", echo=said.append, progress=False)
    model, disc = trainer._unwrapped(), trainer.accelerator.unwrap_model(trainer.disc)
    assert model.copy_head is not None  # tiny.yaml keeps the default model.copy=true
    before = {"compressor": _snapshot(model.compressor), "reconstructor": _snapshot(model.reconstructor),
              "copy_head": _snapshot(model.copy_head), "discriminator": _snapshot(disc)}
    result = trainer.train()
    after = {"compressor": _snapshot(model.compressor), "reconstructor": _snapshot(model.reconstructor),
             "copy_head": _snapshot(model.copy_head), "discriminator": _snapshot(disc)}
    return {"before": before, "after": after, "result": result, "dir": trainer.out, "said": said}


@pytest.mark.parametrize("part", ["compressor", "reconstructor", "copy_head", "discriminator"])
def test_every_weight_of_each_model_changed(trained, part):
    before, after = trained["before"][part], trained["after"][part]
    assert before.keys() == after.keys() and before
    unchanged = [name for name in before if torch.equal(before[name], after[name])]
    assert not unchanged, f"{part}: no update reached {unchanged}"
    assert all(torch.isfinite(t).all() for t in after.values())


def test_main_phase_steps_ran_with_all_losses(trained):
    rows = [r for r in metrics(trained["dir"]) if "loss/rec" in r]
    assert [r["step"] for r in rows] == [1, 2, 3]
    assert "loss/adv" not in rows[0] and rows[0]["train/adv_weight"] == 0.0  # step 1: lead pretraining
    for row in rows[1:]:  # main phase: reconstruction through the bottleneck plus the adversarial loss
        assert row["train/adv_weight"] > 0
        for key in ("loss/rec", "loss/adv", "loss/lead", "loss/d", "d/acc_real", "d/acc_fake", "summary/words"):
            assert key in row and row[key] == row[key], key  # present and not NaN
    assert trained["result"]["step"] == 3


# ---------------------------------------------------------------- the run directory


def test_run_directory_holds_metrics_and_both_checkpoints(tiny_run):
    run = tiny_run["dir"]
    assert (run / "config.yaml").is_file() and (run / "metrics.jsonl").is_file()
    for name in ("last", "best"):
        for item in CHECKPOINT_FILES:
            assert (run / name / item).exists(), f"{name}/{item} missing"
        for part in ("compressor", "reconstructor"):
            files = {p.name for p in (run / name / part).iterdir()}
            assert {"config.json", "model.safetensors", "tokenizer_config.json"} <= files, (name, part, files)
    assert (run / "last" / "training_state.pt").is_file()
    assert not list(run.glob(".*.tmp-*")) and not list(run.glob(".*.old"))  # no leftovers of atomic saves


def test_metrics_hold_the_namespaced_keys(tiny_run):
    rows = metrics(tiny_run["dir"])
    keys = set().union(*rows)
    for key in ("loss/rec", "loss/adv", "d/acc_real", "d/acc_fake", "summary/words", "loss/d", "dev/score"):
        assert key in keys, key
    train_rows = [r for r in rows if "loss/rec" in r]
    assert [r["step"] for r in train_rows] == [2, 4, 6]  # tiny.yaml: log_every 2, steps 6
    assert all(0 <= r["d/acc_real"] <= 1 and 0 <= r["d/acc_fake"] <= 1 for r in train_rows)
    assert all(1 <= r["summary/words"] <= 6 for r in train_rows)


def test_trainer_state_records_the_run(tiny_run):
    last, best = state(tiny_run["dir"] / "last"), state(tiny_run["dir"] / "best")
    assert last["step"] == 6
    assert last["docs_seen"] == 6 * 8
    assert last["best_step"] == best["step"] and best["step"] <= 6
    assert last["best_score"] == best["best_score"]
    assert last["criterion"].startswith("reference-free")
    # best/ records the training seconds at its own step, not those of an earlier last/ (0 before any)
    assert 0 < best["train_seconds"] <= last["train_seconds"]


def test_checkpoint_config_is_the_run_config(tiny_run):
    saved = load_config(tiny_run["dir"] / "last" / "config.yaml")
    assert saved == load_config(TINY, ["tokenizer.train_sentences=400"])


def test_console_gets_one_line_per_interval(tiny_run):
    lines = shown_lines(tiny_run["out"] + tiny_run["err"])
    assert sum(line.startswith("step ") for line in lines) == 3
    assert any(line.startswith("done: 6 steps") for line in lines)
    assert "samples:" in tiny_run["err"]  # tiny.yaml prints DOCUMENT -> SUMMARY -> RECONSTRUCTION tables
    assert tiny_run["out"] == ""  # training logs go to stderr: stdout stays clean for pipes


def test_each_dev_evaluation_is_logged_once(tiny_run):
    # tiny.yaml evaluates every 3 steps of 6: at step 3, and once at the end (not twice at step 6)
    steps = [r["step"] for r in metrics(tiny_run["dir"]) if "dev/score" in r]
    assert steps == [3, 6]


# ---------------------------------------------------------------- runs that continue or refuse


def test_training_again_in_the_same_directory_without_resume_fails(tiny_run):
    before = (tiny_run["dir"] / "metrics.jsonl").read_bytes()
    code, out, err = train(tiny_run["dir"])
    assert code != 0
    lines = shown_lines(err)
    assert len(lines) == 1, lines
    assert "already holds a run" in lines[0] and "--resume" in lines[0]
    assert "Traceback" not in err + out
    assert (tiny_run["dir"] / "metrics.jsonl").read_bytes() == before


def test_resume_without_a_checkpoint_fails(tmp_path):
    code, out, err = train(tmp_path / "fresh", resume=True)
    assert code != 0
    assert len(shown_lines(err)) == 1 and "no checkpoint" in err and "Traceback" not in err


def test_resume_continues_the_step_count(tmp_path):
    run = tmp_path / "run"
    code, _, err = train(run, "train.steps=4")
    assert code == 0, err
    assert state(run / "last")["step"] == 4
    tokenizer_before = (run / "last" / "compressor" / "tokenizer.json").read_bytes()
    first_steps = [r["step"] for r in metrics(run)]

    code, out, err = train(run, "train.steps=6", resume=True)
    assert code == 0, err
    assert "resuming from" in out + err
    final = state(run / "last")
    assert final["step"] == 6
    assert final["docs_seen"] == 6 * 8
    steps = [r["step"] for r in metrics(run)]
    assert steps[: len(first_steps)] == first_steps  # appended, not rewritten
    new_train = [r["step"] for r in metrics(run)[len(first_steps):] if "loss/rec" in r]
    assert new_train and min(new_train) > 4 and max(new_train) == 6
    # the resumed run kept the checkpoint's tokenizer instead of training a new one
    assert (run / "last" / "compressor" / "tokenizer.json").read_bytes() == tokenizer_before
    assert "training a SentencePiece tokenizer" not in out + err


@pytest.fixture(scope="module")
def without_real(tmp_path_factory):
    """A 3-step run with `data.real_files=[]`, with the Python warnings it raised."""
    run = tmp_path_factory.mktemp("no_real") / "run"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        code, out, err = train(run, "data.real_files=[]", "train.steps=3", "train.pretrain_steps=1",
                               "train.log_every=1")
    return {"dir": run, "code": code, "out": out, "err": err, "warnings": [str(w.message) for w in caught]}


def test_training_without_real_texts_runs_without_the_discriminator(without_real):
    run, err = without_real["dir"], without_real["err"]
    assert without_real["code"] == 0, err
    assert "without the discriminator" in err
    rows = [r for r in metrics(run) if "loss/rec" in r]
    assert [r["step"] for r in rows] == [1, 2, 3]
    for row in rows:
        assert "loss/adv" not in row and "d/acc_real" not in row and "loss/d" not in row
        assert row["train/adv_weight"] == 0.0
    assert state(run / "last")["step"] == 3 and (run / "best" / "compressor").is_dir()


def test_training_without_real_texts_raises_no_scheduler_warning(without_real):
    assert without_real["code"] == 0
    assert not [w for w in without_real["warnings"] if "lr_scheduler.step()" in w]


def test_dev_set_with_references_selects_best_by_rouge(tmp_path):
    rows = [json.loads(line) for line in
            (Path(TINY).parents[1] / "data/debian/test.jsonl").read_text(encoding="utf-8").splitlines()[:8]]
    docs, refs = tmp_path / "dev_docs.txt", tmp_path / "dev_refs.txt"
    docs.write_text("".join(r["document"] + "\n" for r in rows), encoding="utf-8")
    refs.write_text("".join(r["summary"] + "\n" for r in rows), encoding="utf-8")
    code, out, err = train(tmp_path / "run", f"data.dev_documents={docs}", f"data.dev_references={refs}",
                           "train.steps=2", "train.pretrain_steps=1", "train.eval_every=1")
    assert code == 0, err
    dev = [r for r in metrics(tmp_path / "run") if "dev/score" in r]
    assert [r["step"] for r in dev] == [1, 2]
    assert all({"dev/rouge1", "dev/rouge2", "dev/rougeL", "dev/words"} <= set(r) for r in dev)
    assert state(tmp_path / "run" / "last")["criterion"].startswith("dev ROUGE")


def test_bundled_dev_references_are_accepted(tmp_path):
    code, out, err = train(tmp_path / "run", "data.dev_documents=bundled:debian/test.jsonl",
                           "data.dev_references=bundled:debian/test.jsonl", "data.dev_size=4", "train.steps=1",
                           "train.pretrain_steps=1")
    assert code == 0, err


# ---------------------------------------------------------------- the metric logger


def test_metric_logger_averages_each_interval_and_writes_jsonl(tmp_path):
    echoed = []
    logger = MetricLogger(tmp_path / "m.jsonl", echo=echoed.append)
    logger.add({"loss/rec": 1.0})
    logger.add({"loss/rec": 3.0})
    assert logger.flush(2, {"perf/lr": 0.5}) == {"loss/rec": 2.0, "perf/lr": 0.5}
    logger.add({"loss/rec": 5.0})
    logger.flush(3)
    rows = [json.loads(x) for x in (tmp_path / "m.jsonl").read_text().splitlines()]
    assert rows == [{"step": 2, "loss/rec": 2.0, "perf/lr": 0.5}, {"step": 3, "loss/rec": 5.0}]
    assert echoed == ["step 2: loss/rec 2.000, perf/lr 0.500", "step 3: loss/rec 5.000"]


def test_metric_logger_disabled_writes_nothing(tmp_path):
    logger = MetricLogger(tmp_path / "m.jsonl", echo=lambda s: None, enabled=False)
    logger.add({"a": 1.0})
    logger.flush(1)
    assert not (tmp_path / "m.jsonl").exists()


def test_metric_logger_averages_a_key_over_the_steps_that_reported_it(tmp_path):
    logger = MetricLogger(tmp_path / "m.jsonl", echo=lambda s: None)
    logger.add({"loss/rec": 2.0})  # a pretraining step: no adversarial loss
    logger.add({"loss/rec": 4.0, "loss/adv": 1.0})  # a main-phase step
    row = logger.flush(2)
    assert row["loss/adv"] == pytest.approx(1.0)


# ---------------------------------------------------------------- batches and atomic checkpoints


def test_pad_ids_appends_eos_cuts_and_pads():
    from summae.tokenization import pad_ids

    out = pad_ids([[5, 6], [], [7, 8, 9, 10, 11]], eos_id=1, pad_id=0, width=4)
    assert out.tolist() == [[5, 6, 1, 0], [1, 0, 0, 0], [7, 8, 9, 1]]


@given(rows=st.lists(st.lists(st.integers(2, 9000), max_size=60), max_size=40), width=st.integers(1, 50))
@settings(max_examples=60, deadline=None)
def test_pad_ids_equals_padding_python_lists(rows, width):
    """pad_ids (rows written into a numpy array) against the plain form it replaced: lists padded in Python."""
    from summae.tokenization import pad_ids

    expected = [row[: width - 1] + [1] + [0] * (width - 1 - len(row[: width - 1])) for row in rows]
    out = pad_ids(rows, eos_id=1, pad_id=0, width=width)
    assert out.dtype == torch.long and out.shape == (len(rows), width)
    assert out.tolist() == expected


def test_tensor_batches_are_reproducible_resumable_and_split_by_rank():
    from summae.train.batches import TensorBatches

    ids = torch.arange(24).reshape(12, 2)
    one = TensorBatches(ids, 3, seed=5)
    assert one.per_epoch == 4
    epoch = torch.cat([one.batch(s) for s in range(4)])
    assert sorted(epoch[:, 0].tolist()) == list(range(0, 24, 2))  # an epoch sees every row once
    stream = one.iterate(start_step=6)
    assert torch.equal(next(stream), one.batch(6)) and torch.equal(next(stream), one.batch(7))
    assert torch.equal(TensorBatches(ids, 3, seed=5).batch(2), one.batch(2))
    ranks = [TensorBatches(ids, 3, seed=5, rank=r, world=2) for r in range(2)]
    rows = [set(torch.cat([b.batch(s) for s in range(2)])[:, 0].tolist()) for b in ranks]
    assert not rows[0] & rows[1] and len(rows[0] | rows[1]) == 12


def ragged(n: int, width: int, seed: int = 0) -> torch.Tensor:
    """n rows of ids 1.. (the row number in column 0) and random lengths 1..width, pad 0 after them."""
    gen = torch.Generator().manual_seed(seed)
    lengths = torch.randint(1, width + 1, (n,), generator=gen)
    ids = torch.arange(1, width + 1).repeat(n, 1) * (torch.arange(width) < lengths[:, None])
    ids[:, 0] = torch.arange(1, n + 1)
    return ids


@pytest.mark.parametrize("bucket", [0, 1, 4])
def test_length_bucketed_batches_cover_each_epoch_once_per_rank_and_are_cut_to_their_longest_row(bucket):
    from summae.train.batches import TensorBatches

    ids = ragged(96, 10)
    ranks = [TensorBatches(ids, 4, seed=3, rank=r, world=2, pad_id=0, bucket=bucket) for r in range(2)]
    seen = []
    for batches in ranks:
        assert batches.per_epoch == 12
        for step in range(12):
            batch = batches.batch(step)
            assert batch.shape[1] == int((batch != 0).sum(1).max())  # cut to the longest row, no all-pad column
            seen += batch[:, 0].tolist()
    assert sorted(seen) == list(range(1, 97))  # both ranks together see every row once per epoch
    fresh = TensorBatches(ids, 4, seed=3, rank=1, world=2, pad_id=0, bucket=bucket)
    assert torch.equal(fresh.batch(17), ranks[1].batch(17))  # resumable at any step, window cache or not


def test_length_buckets_carry_less_padding_than_shuffled_batches():
    from summae.train.batches import TensorBatches

    ids = ragged(512, 40)

    def padding(bucket):
        batches = TensorBatches(ids, 16, seed=0, pad_id=0, bucket=bucket)
        cells = [batches.batch(s) for s in range(batches.per_epoch)]
        return sum(int((b == 0).sum()) for b in cells) / sum(b.numel() for b in cells)

    assert padding(8) < padding(0) / 3


def test_streamed_batches_are_bucketed_cut_and_resumable():
    from datasets import Dataset

    from summae.train.batches import StreamBatches

    class Tok:  # a text of n words is n tokens
        def __call__(self, texts, add_special_tokens=False):
            return {"input_ids": [[5] * len(t.split()) for t in texts]}

    texts = [" ".join(["w"] * (1 + (i * 7) % 13)) for i in range(64)]
    data = Dataset.from_dict({"text": texts}).to_iterable_dataset()
    make = lambda: StreamBatches(data, Tok(), 4, max_tokens=16, eos_id=1, pad_id=0, seed=0, bucket=4)  # noqa: E731
    batches = make().iterate()
    first = [next(batches) for _ in range(20)]
    lengths = [sorted((b != 0).sum(1).tolist()) for b in first]
    # one epoch (16 batches): every document once, EOS included
    assert sorted(sum(lengths[:16], [])) == sorted(2 + (i * 7) % 13 for i in range(64))
    assert all(b.shape[1] == max(n) for b, n in zip(first, lengths))  # cut to the longest row
    for window in range(5):  # the 4 batches of a window hold neighbouring lengths: their ranges do not cross
        spans = sorted((n[0], n[-1]) for n in lengths[4 * window: 4 * window + 4])
        assert all(hi <= lo for (_, hi), (lo, _) in zip(spans, spans[1:]))
    resumed = make().iterate(start_step=6)
    assert all(torch.equal(next(resumed), first[i]) for i in range(6, 20))


def test_tensor_batches_of_a_tiny_corpus_repeat_rows():
    from summae.train.batches import TensorBatches

    batch = TensorBatches(torch.arange(4).reshape(2, 2), 5, seed=0).batch(0)
    assert batch.shape == (5, 2)


def test_write_atomic_swaps_in_the_new_directory(tmp_path):
    from summae import checkpoint

    target = tmp_path / "last"
    checkpoint.write_atomic(target, lambda d: (d / "a.txt").write_text("one"))
    checkpoint.write_atomic(target, lambda d: (d / "b.txt").write_text("two"))
    assert sorted(p.name for p in target.iterdir()) == ["b.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last"]  # no .tmp-* or .old left


def test_write_atomic_keeps_the_old_directory_when_filling_fails(tmp_path):
    from summae import checkpoint

    target = tmp_path / "last"
    checkpoint.write_atomic(target, lambda d: (d / "a.txt").write_text("old"))

    def broken(directory):
        (directory / "half.txt").write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        checkpoint.write_atomic(target, broken)
    assert (target / "a.txt").read_text() == "old" and not (target / "half.txt").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last"]


def test_recover_brings_back_a_checkpoint_left_between_the_renames(tmp_path):
    from summae import checkpoint

    old = tmp_path / ".last.old"
    old.mkdir()
    (old / "trainer_state.json").write_text("{}")
    (tmp_path / ".last.tmp-1234abcd").mkdir()
    checkpoint.recover(tmp_path / "last")
    assert (tmp_path / "last" / "trainer_state.json").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last"]


# ---------------------------------------------------------------- streaming input, pretrained start


def test_streaming_training_reads_the_files_lazily_and_counts_truncation(tmp_path):
    run_dir = tmp_path / "stream"
    code, _, err = train(run_dir, "data.streaming=true", "train.steps=4", "train.pretrain_steps=2",
                         "data.dev_size=8", "train.eval_every=0", "train.save_every=0")
    assert code == 0, err
    assert state(run_dir / "last")["step"] == 4
    assert "streamed documents were longer than model.max_source_tokens" in err  # reported once, at the end
    assert err.count("streamed documents were longer") == 1


def test_training_can_start_from_a_local_pretrained_seq2seq(tiny_run, tmp_path):
    # the compressor of a finished run is a plain transformers seq2seq directory with its tokenizer
    start = Path(tiny_run["dir"]) / "last" / "compressor"
    run_dir = tmp_path / "from_pretrained"
    code, _, err = train(run_dir, f"model.pretrained={start}", "train.steps=2", "train.pretrain_steps=1",
                         "train.eval_every=0", "train.save_every=0")
    assert code == 0, err
    assert "training a SentencePiece tokenizer" not in err  # the pretrained model's tokenizer is used
    from transformers import AutoModelForSeq2SeqLM

    before = AutoModelForSeq2SeqLM.from_pretrained(start)
    after = AutoModelForSeq2SeqLM.from_pretrained(run_dir / "last" / "compressor")
    assert before.config.d_model == after.config.d_model
    assert not torch.equal(before.get_input_embeddings().weight, after.get_input_embeddings().weight)


def test_a_wrong_pretrained_path_is_one_line(tmp_path):
    code, _, err = train(tmp_path / "bad", "model.pretrained=/nonexistent/model", "train.steps=1")
    assert code == 2
    assert len(shown_lines(err)) == 1 and "cannot load" in err


def test_same_seed_and_data_give_the_same_summaries_twice(tiny_run, tmp_path):
    from summae import Summarizer

    again = tmp_path / "again"
    code, _, err = run_captured(["train", "--config", TINY, "--output-dir", again, "--quiet",
                                 *[a for item in TINY_RUN_SETS for a in ("--set", item)]])
    assert code == 0, err
    docs = ["APT is the command-line package manager of Debian systems, with dependency resolution.",
            "A small library for parsing XML documents in C, with bindings for Python and Perl."]
    first = Summarizer.from_pretrained(tiny_run["dir"], device="cpu")(docs, words=4)
    second = Summarizer.from_pretrained(again, device="cpu")(docs, words=4)
    assert first == second


# ---------------------------------------------------------------- train.mixed_precision auto


@pytest.mark.parametrize("gpu, native, expected", [(True, True, "bf16"), (True, False, "no"), (False, True, "no")])
def test_auto_precision_is_bf16_only_on_a_gpu_that_multiplies_it_natively(monkeypatch, gpu, native, expected):
    """auto: bf16 on a CUDA GPU with bf16; fp32 on GPUs without it and on every CPU (AVX512-BF16 or not)."""
    import summae.train.optim
    from summae.train.optim import training_precision

    monkeypatch.setattr(torch.cuda, "is_available", lambda: gpu)
    monkeypatch.setattr(summae.train.optim, "native_bf16", lambda device: native)
    assert training_precision("auto", "auto") == expected
    assert training_precision("auto", "cpu") == "no"  # --device cpu on a GPU machine
    for chosen in ("no", "bf16", "fp16"):  # given explicitly: used as given, on any hardware
        assert training_precision(chosen, "cpu") == chosen


def test_a_trainer_with_auto_precision_says_what_it_chose(tmp_path):
    cfg = load_config(TINY, [*SMALL, "train.mixed_precision=auto", "train.steps=1", "train.eval_every=0"])
    said = []
    trainer = Trainer(cfg, tmp_path / "run", device="cpu", echo=said.append, progress=False)
    assert trainer.precision == "no" and trainer.accelerator.mixed_precision == "no"
    assert "train.mixed_precision auto: fp32" in said


def test_the_progress_bar_follows_the_budget_that_ends_training_first():
    """With train.minutes the bar's share (and so its time left) is the share of the time budget, counting the
    earlier sessions of a resumed run; without it, the share of the steps."""
    from summae.train.metrics import Progress

    timed = Progress(steps=100_000, start=0, seconds=300, seconds_before=0, enabled=False)
    assert timed.share(10, 150) == pytest.approx(0.5)  # 10 of 100,000 steps, but half the 5 minutes
    assert Progress(steps=100, start=0, seconds=None, seconds_before=0, enabled=False).share(25, 999) == 0.25
    resumed = Progress(steps=1000, start=500, seconds=600, seconds_before=300, enabled=False)
    assert resumed.share(500, 60) == pytest.approx(0.6)  # (300 s before + 60 s) of 600 s
    assert resumed.share(1000, 0) == 1.0


def test_select_by_reconstruction_trains_on_the_choice_of_the_auto_encoder(tmp_path):
    """train.select=reconstruction: after pretraining, each step logs the share of documents whose own sample
    the reconstructor preferred to the pseudo-summary, and with the real texts' LM in the choice too."""
    code, out, err = train(tmp_path / "run", "train.steps=4", "train.pretrain_steps=2", "train.log_every=1",
                           "train.select=reconstruction", "train.select_lm_weight=0.5", "model.rec_copy=true",
                           "summary.in_order=true", "train.pseudo=extract")
    assert code == 0, err
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    shares = [r["select/own"] for r in rows if "select/own" in r]
    assert len(shares) == 2 and all(0 <= s <= 1 for s in shares)
    assert all("select/own" not in r for r in rows if r.get("step", 0) <= 2)  # none while pretraining


def test_select_family_takes_each_target_from_the_search_at_some_family_setting(tmp_path):
    """train.select=family: after pretraining, every document's target is one of the search's extractions at the
    FAMILY settings, the one with the shortest description; the share won by the teacher's own weights is logged."""
    import torch

    from summae.train import targets as targets_module
    from summae.train.criterion import family_extractions

    seen = {}
    original = targets_module.family_targets

    def spy(model, extractor, b, *, pad_id):
        targets, teacher = original(model, extractor, b, pad_id=pad_id)
        n = b.doc_labels.shape[0] - b.sup_rows
        options = family_extractions(extractor, b.doc_labels[:n], b.target[:n], b.pseudo.shape[1])
        seen["in_family"] = all(any(torch.equal(targets[i], o[i]) for o in options) for i in range(n))
        seen["teacher_rows"] = bool(torch.equal(targets[:n][teacher], b.pseudo[:n][teacher]))
        return targets, teacher

    targets_module.family_targets = spy
    try:
        code, out, err = train(tmp_path / "run", "train.steps=4", "train.pretrain_steps=2", "train.log_every=1",
                               "train.select=family", "model.rec_copy=true", "train.pseudo=extract")
    finally:
        targets_module.family_targets = original
    assert code == 0, err
    assert seen == {"in_family": True, "teacher_rows": True}
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    shares = [r["select/teacher"] for r in rows if "select/teacher" in r]
    assert len(shares) == 2 and all(0 <= s <= 1 for s in shares)
    assert all("select/teacher" not in r for r in rows if r.get("step", 0) <= 2)  # none while pretraining


def test_select_family_needs_the_extraction_search(tmp_path):
    code, out, err = train(tmp_path / "run", "train.steps=2", "train.select=family", "train.pseudo=lead")
    assert code != 0 and "train.select=family needs train.pseudo=extract" in err and "Traceback" not in err


def test_agreement_slack_keeps_the_latest_checkpoint_near_the_best():
    from summae.train.keeper import replaces_best

    def kept(scores, slack):
        top, step = None, None
        for i, score in enumerate(scores):
            if replaces_best(score, top, slack):
                step = i
            top = score if top is None else max(top, score)
        return step

    # teacher agreement of a Debian demo's evaluations (end of pretraining, then auto-encoding with D at 0.1)
    agreement = [65.64, 63.89, 65.21, 64.75, 64.96, 64.82]
    assert kept(agreement, 0.0) == 0  # the highest agreement: the end of pretraining
    assert kept(agreement, 1.0) == 5  # the latest within 1 point of 65.64
    assert kept(agreement, 0.5) == 2  # 65.21; 64.96 and 64.82 are more than 0.5 below
    assert kept([60.0, 66.0, 64.0], 1.0) == 1  # a new best raises the bar for the ones after it
    assert not replaces_best(50.0, 50.0, 0.0) and replaces_best(50.0, 50.0, 0.5)


def test_train_and_score_resumes_a_run_with_new_settings(tmp_path):
    # benchmarks/gigaword.py --resume: variants of the auto-encoding phase from one copy of a pretraining checkpoint
    from summae.pipeline import EvalSet, train_and_score

    run = tmp_path / "run"
    code, _, err = train(run, "train.steps=4", "train.pretrain_steps=4")
    assert code == 0, err
    cfg = load_config(TINY, [*SMALL, "train.steps=6", "train.pretrain_steps=4", "train.adv_weight=0"])
    docs = ["the cat sat on the mat near the door today", "a dog ran in the park with a red ball"]
    report = train_and_score(cfg, run, [EvalSet("dev", docs, [["cat on mat"], ["dog in park"]])], device="cpu",
                             echo=lambda _: None, progress=False, resume=True)
    assert report["steps"] == 6 and state(run / "last")["step"] == 6
    resumed = [r for r in metrics(run) if r["step"] > 4 and "loss/rec" in r]
    assert resumed and all("loss/adv" not in r for r in resumed)  # the new setting (no D) applies after the resume
    assert set(report["sets"]["dev"]["model"]) >= {"rouge1", "rouge2", "rougeL"}
