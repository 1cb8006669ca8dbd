"""`summae plot` and the plots training writes: the PNGs exist and are images, every bad run directory is
one line, the histogram comes from dev references or from --summaries/--references, and TensorBoard logs
appear when tensorboard is installed."""

import json
import shutil

import pytest
from conftest import shown_lines

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def write_metrics(run_dir, *, discriminator=True, steps=(2, 4, 6)):
    run_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for step in steps:
        row = {"step": step, "loss/rec": 6.0 - step / 4, "loss/lead": 3.0 - step / 10, "loss/total": 9.0 - step / 3,
               "summary/words": 4.0 + step / 10, "perf/docs_per_s": 20.0}
        if discriminator:
            row.update({"loss/d": 1.3, "d/acc_real": 0.4 + step / 20, "d/acc_fake": 0.9 - step / 20})
        rows.append(row)
    rows.append({"step": steps[-1], "dev/rec_nll": 5.1, "dev/score": -5.9})
    (run_dir / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return run_dir


def is_png(path):
    return path.is_file() and path.read_bytes()[:8] == PNG_MAGIC and path.stat().st_size > 2000


def test_plot_writes_losses_discriminator_and_length_pngs(cli, tmp_path):
    run = write_metrics(tmp_path / "run")
    code, out, err = cli("plot", run)
    assert code == 0, err
    names = sorted(p.rsplit("/", 1)[-1] for p in out.split())
    assert names == ["discriminator.png", "losses.png", "summary_length.png"]
    assert all(is_png(run / "plots" / name) for name in names)
    assert "no length histogram" in err  # no dev references and no --summaries: said, not silent


def test_plot_without_a_discriminator_skips_its_plot(tmp_path):
    from summae.train.plots import write_plots

    run = write_metrics(tmp_path / "run", discriminator=False)
    assert sorted(p.name for p in write_plots(run)) == ["losses.png", "summary_length.png"]


def test_plot_histogram_from_summaries_and_references(cli, tmp_path):
    run = write_metrics(tmp_path / "run")
    hyps, refs = tmp_path / "hyps.txt", tmp_path / "refs.jsonl"
    hyps.write_text("a b c\nd e\nf g h i\n", encoding="utf-8")
    refs.write_text("".join(json.dumps({"summary": s}) + "\n" for s in ("x y", "x y z w", "z")), encoding="utf-8")
    code, out, err = cli("plot", run, "--summaries", hyps, "--references", refs, "--field", "summary",
                         "--output-dir", tmp_path / "png")
    assert code == 0, err
    assert is_png(tmp_path / "png" / "length_histogram.png")
    assert "no length histogram" not in err


def test_histogram_from_the_dev_lengths_file(tmp_path):
    from summae.train.plots import LENGTHS_FILE, write_plots

    run = write_metrics(tmp_path / "run")
    (run / LENGTHS_FILE).write_text(json.dumps({"summary_words": [3, 4, 4], "reference_words": [5, 2, 4]}))
    assert "length_histogram.png" in [p.name for p in write_plots(run)]


@pytest.mark.parametrize("case, fragment", [
    ("no-dir", "run directory not found"),
    ("no-metrics", "metrics.jsonl not found"),
    ("empty", "is empty"),
    ("corrupt", "line 2: malformed JSON"),
    ("no-step", "line 1: expected a JSON object"),
    ("binary", "not UTF-8"),
    ("bad-lengths", "dev_lengths.json is corrupt"),
])
def test_plot_bad_run_directory_is_one_line(cli, tmp_path, case, fragment):
    run = tmp_path / "run"
    if case != "no-dir":
        run.mkdir()
    metrics = run / "metrics.jsonl"
    if case == "empty":
        metrics.write_text("\n")
    elif case == "corrupt":
        metrics.write_text('{"step": 1, "loss/rec": 2.0}\n{"step": 2, "loss/re')
    elif case == "no-step":
        metrics.write_text('{"loss/rec": 2.0}\n')
    elif case == "binary":
        metrics.write_bytes(b"\xff\xfe\x00garbage")
    elif case == "bad-lengths":
        write_metrics(run)
        (run / "dev_lengths.json").write_text("{not json")
    code, out, err = cli("plot", run)
    assert code == 2
    assert len(shown_lines(err)) == 1 and fragment in err and "Traceback" not in err
    assert not (run / "plots").exists() or case == "bad-lengths"


@pytest.mark.parametrize("args, fragment", [
    (["--summaries", "HYPS"], "together"),
    (["--summaries", "HYPS", "--references", "SHORT"], "line-aligned"),
    (["--summaries", "HYPS", "--references", "MISSING"], "no such file"),
])
def test_plot_bad_histogram_inputs_are_one_line(cli, tmp_path, args, fragment):
    run = write_metrics(tmp_path / "run")
    (tmp_path / "hyps.txt").write_text("a b\nc\n")
    (tmp_path / "short.txt").write_text("a b\n")
    names = {"HYPS": tmp_path / "hyps.txt", "SHORT": tmp_path / "short.txt", "MISSING": tmp_path / "nope.txt"}
    code, _, err = cli("plot", run, *[names.get(a, a) for a in args])
    assert code == 2 and len(shown_lines(err)) == 1 and fragment in err


def test_training_wrote_its_plots(tiny_run):
    plots = tiny_run["dir"] / "plots"
    assert all(is_png(plots / f"{name}.png") for name in ("losses", "discriminator", "summary_length"))
    assert "plots: " in tiny_run["err"]


def test_training_writes_tensorboard_logs_when_installed(tiny_run):
    pytest.importorskip("tensorboard")
    events = list((tiny_run["dir"] / "tensorboard").glob("events.out.tfevents.*"))
    assert events and events[0].stat().st_size > 100
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(tiny_run["dir"] / "tensorboard"))
    acc.Reload()
    assert {"loss/rec", "loss/total", "dev/score"} <= set(acc.Tags()["scalars"])


def test_after_training_with_dev_references_writes_the_histogram(tiny_run, tmp_path):
    """The end of a run with dev references: dev_lengths.json from the final model's greedy summaries."""
    from summae.model.build import load_for_inference
    from summae.train.plots import LENGTHS_FILE, after_training
    from summae.train.dev_eval import DevSet

    cfg, tokenizer, model = load_for_inference(tiny_run["dir"])
    texts = ["APT is the command-line package manager of Debian systems, with dependency resolution.",
             "A small library for parsing XML documents in C, with bindings for Python and Perl.",
             "Utilities to manage the kernel time variables of a machine connected to the Internet."]
    refs = ["package manager", "XML parsing library in C", "kernel time utilities"]
    dev = DevSet.build(texts, refs, tokenizer, model.vocab, cfg)
    run = tmp_path / "run"
    run.mkdir()
    shutil.copy(tiny_run["dir"] / "metrics.jsonl", run / "metrics.jsonl")
    said = []
    written = after_training(run, model, dev, echo=said.append)
    lengths = json.loads((run / LENGTHS_FILE).read_text())
    assert lengths["reference_words"] == [2, 5, 3]
    assert len(lengths["summary_words"]) == 3 and all(1 <= n <= cfg.summary.default_words
                                                      for n in lengths["summary_words"])
    assert "length_histogram.png" in [p.name for p in written] and said[0].startswith("plots: ")


def test_after_training_reports_a_plot_problem_instead_of_failing(tmp_path):
    from summae.train.plots import after_training

    class NoRefs:
        refs = None

    said = []
    assert after_training(tmp_path, None, NoRefs(), echo=said.append) == []
    assert said and said[0].startswith("plots skipped: ") and "metrics.jsonl not found" in said[0]
