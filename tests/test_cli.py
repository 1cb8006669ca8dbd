"""`summae train | summarize | evaluate | baseline` end to end on the tiny run, and every bad input as one
line on stderr with a non-zero exit and no traceback. The CLI runs in-process (summae.cli.main), except
one subprocess check of `python -m summae.cli`."""

import io
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, TINY, shown_lines

TEST_JSONL = REPO / "summae" / "data" / "debian" / "test.jsonl"
MAX_WORDS, DEFAULT_WORDS = 6, 4  # summae/configs/tiny.yaml: summary.max_words, summary.default_words


@pytest.fixture(scope="module")
def records():
    with open(TEST_JSONL, encoding="utf-8") as handle:
        return [json.loads(line) for _, line in zip(range(6), handle)]


@pytest.fixture
def docs_txt(tmp_path, records):
    """Six lines: five documents and, in the middle, a blank line (its summary must stay an empty line)."""
    lines = [r["document"] for r in records[:3]] + [""] + [r["document"] for r in records[3:5]]
    path = tmp_path / "docs.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def docs_jsonl(tmp_path, records):
    path = tmp_path / "docs.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records[:4]), encoding="utf-8")
    return path


def read_lines(path) -> list[str]:
    return Path(path).read_text(encoding="utf-8").split("\n")[:-1]


def assert_one_line_error(code, out, err, *fragments, command="summarize"):
    assert code not in (0, None), f"exit {code}; stderr: {err!r}"
    lines = shown_lines(err)
    assert len(lines) == 1, f"expected one line on stderr, got {lines}"
    assert lines[0].startswith(f"summae {command}: error: "), lines[0]
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    assert "Traceback" not in err and "Traceback" not in out


# ---------------------------------------------------------------- end to end


def test_train_finished_and_reported_its_run(tiny_run):
    assert tiny_run["code"] == 0
    done = [line for line in shown_lines(tiny_run["err"]) if line.startswith("done: ")]
    assert len(done) == 1 and str(tiny_run["dir"]) in done[0]
    assert "Traceback" not in tiny_run["err"]


def test_summarize_txt_line_for_line(cli, tiny_run, docs_txt, tmp_path):
    out_path = tmp_path / "summaries.txt"
    code, out, err = cli("summarize", "--model", tiny_run["dir"], "--input", docs_txt, "--output", out_path)
    assert code == 0, err
    assert out == ""  # the summaries went to the file
    assert "summarized 6 documents" in err
    inputs, summaries = read_lines(docs_txt), read_lines(out_path)
    assert len(summaries) == len(inputs) == 6
    for doc, summary in zip(inputs, summaries):
        if doc:
            assert len(summary.split()) <= DEFAULT_WORDS, summary
            assert summary == " ".join(summary.split())  # one line, single spaces
        else:
            assert summary == ""
    assert any(summaries)
    assert not list(tmp_path.glob("summaries.txt.*.partial"))  # no temporary file left


def test_summarize_replaces_an_existing_output_on_success(cli, tiny_run, docs_txt, tmp_path):
    out_path = tmp_path / "summaries.txt"
    out_path.write_text("OLD\n", encoding="utf-8")
    code, _, err = cli("summarize", "--model", tiny_run["dir"], "--input", docs_txt, "--output", out_path, "--quiet")
    assert code == 0, err
    assert len(read_lines(out_path)) == 6 and "OLD" not in read_lines(out_path)


def test_summarize_output_file_gets_normal_permissions(cli, tiny_run, docs_txt, tmp_path):
    out_path = tmp_path / "summaries.txt"
    out_path.write_text("OLD\n", encoding="utf-8")
    out_path.chmod(0o644)
    code, _, err = cli("summarize", "--model", tiny_run["dir"], "--input", docs_txt, "--output", out_path, "--quiet")
    assert code == 0, err
    assert stat.S_IMODE(out_path.stat().st_mode) == 0o644


def test_summarize_jsonl_adds_the_summary_to_each_record(cli, tiny_run, docs_jsonl, records, tmp_path):
    out_path = tmp_path / "out.jsonl"
    code, _, err = cli("summarize", "--model", tiny_run["dir"], "--input", docs_jsonl, "--output", out_path,
                       "--words", 3, "--quiet")
    assert code == 0, err
    rows = [json.loads(line) for line in read_lines(out_path)]
    assert len(rows) == 4
    summaries = []
    for row, original in zip(rows, records):
        summaries.append(row.pop("generated_summary"))
        assert row == original  # every field kept, in order
        assert isinstance(summaries[-1], str) and len(summaries[-1].split()) <= 3
    assert any(summaries)


def test_summarize_jsonl_refuses_to_overwrite_an_existing_field(cli, tiny_run, docs_jsonl):
    code, out, err = cli("summarize", "--model", tiny_run["dir"], "--input", docs_jsonl, "--output-field", "summary")
    assert_one_line_error(code, out, err, "--overwrite")


def test_summarize_reads_stdin_and_writes_stdout(cli, tiny_run, records, monkeypatch):
    docs = [r["document"] for r in records[:3]]
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(("\n".join(docs) + "\n").encode("utf-8"))))
    code, out, err = cli("summarize", "--model", tiny_run["dir"], "--input", "-", "--quiet")
    assert code == 0, err
    lines = out.split("\n")[:-1]
    assert len(lines) == 3 and all(len(line.split()) <= DEFAULT_WORDS for line in lines) and any(lines)


@pytest.mark.parametrize("words", [1, 3, MAX_WORDS])
def test_summarize_words_caps_every_summary(cli, tiny_run, docs_txt, words):
    code, out, err = cli("summarize", "--model", tiny_run["dir"], "--input", docs_txt, "--words", words, "--quiet")
    assert code == 0, err
    lines = out.split("\n")[:-1]
    assert len(lines) == 6
    assert all(len(line.split()) <= words for line in lines)
    assert max(len(line.split()) for line in lines) >= 1


def test_summarize_ratio_is_a_share_of_each_document(cli, tiny_run, tmp_path):
    path = tmp_path / "short.txt"
    path.write_text("alpha beta gamma delta\none two three four five six seven eight\n", encoding="utf-8")
    code, out, err = cli("summarize", "--model", tiny_run["dir"], "--input", path, "--ratio", "0.5", "--quiet")
    assert code == 0, err
    first, second = out.split("\n")[:-1]
    assert len(first.split()) <= 2 and len(second.split()) <= 4
    code, out, err = cli("summarize", "--model", tiny_run["dir"], "--input", path, "--ratio", "0.25", "--quiet")
    assert code == 0, err
    assert [len(line.split()) <= cap for line, cap in zip(out.split("\n")[:-1], (1, 2))] == [True, True]


def test_summarize_with_beams(cli, tiny_run, docs_txt):
    code, out, err = cli("summarize", "--model", tiny_run["dir"], "--input", docs_txt, "--beams", 3, "--words", 2,
                         "--quiet")
    assert code == 0, err
    lines = out.split("\n")[:-1]
    assert len(lines) == 6 and all(len(line.split()) <= 2 for line in lines)


def test_summarize_span_bonus_overrides_the_models(cli, tiny_run, docs_txt):
    from summae.summarize import Summarizer

    code, out, err = cli("summarize", "--model", tiny_run["dir"], "--input", docs_txt, "--span-bonus", "20",
                         "--quiet")
    assert code == 0, err
    summarizer = Summarizer.from_pretrained(tiny_run["dir"], device="cpu")
    assert summarizer.model.rules.span_bonus == 0.0  # tiny.yaml: off
    summarizer.model.rules.span_bonus = 20.0
    assert out.split("\n")[:-1] == summarizer(read_lines(docs_txt))


def test_cli_and_python_api_give_the_same_summaries(cli, tiny_run, docs_txt):
    from summae.summarize import Summarizer

    code, out, _ = cli("summarize", "--model", tiny_run["dir"], "--input", docs_txt, "--words", 3, "--quiet",
                       "--batch-size", 2)
    assert code == 0
    api = Summarizer.from_pretrained(tiny_run["dir"], device="cpu")(read_lines(docs_txt), words=3)
    assert out.split("\n")[:-1] == api


def test_evaluate_prints_rouge_and_writes_json(cli, tmp_path, records):
    hyps, refs, scores = tmp_path / "hyps.txt", tmp_path / "refs.txt", tmp_path / "scores.json"
    hyps.write_text("".join(" ".join(r["document"].split()[:6]) + "\n" for r in records), encoding="utf-8")
    refs.write_text("".join(r["summary"] + "\n" for r in records), encoding="utf-8")
    code, out, err = cli("evaluate", "--hyps", hyps, "--refs", refs, "--output", scores)
    assert code == 0, err
    assert "R-1" in out and "R-2" in out and "R-L" in out
    result = json.loads(scores.read_text(encoding="utf-8"))
    assert result["n"] == len(records) and result["mode"] == "f1"
    assert 0 <= result["rouge1"] <= 100 and result["rouge2"] <= result["rouge1"]
    assert f"{result['rouge1']:.2f}" in out


def test_train_summarize_evaluate_baseline_end_to_end(cli, tiny_run, tmp_path, records):
    docs, refs = tmp_path / "docs.txt", tmp_path / "refs.txt"
    docs.write_text("".join(r["document"] + "\n" for r in records), encoding="utf-8")
    refs.write_text("".join(r["summary"] + "\n" for r in records), encoding="utf-8")
    hyps, lead = tmp_path / "hyps.txt", tmp_path / "lead3.txt"
    assert cli("summarize", "--model", tiny_run["dir"], "--input", docs, "--output", hyps, "--quiet")[0] == 0
    code, out, err = cli("baseline", "--input", docs, "--lead", 3, "--output", lead)
    assert code == 0, err
    assert read_lines(lead) == [" ".join(r["document"].split()[:3]) for r in records]
    for name in (hyps, lead):
        code, out, err = cli("evaluate", "--hyps", name, "--refs", refs, "--output", tmp_path / f"{name.stem}.json")
        assert code == 0, err
        assert json.loads((tmp_path / f"{name.stem}.json").read_text())["n"] == len(records)


def test_baseline_to_stdout(cli, docs_txt):
    code, out, err = cli("baseline", "--input", docs_txt, "--lead", 2)
    assert code == 0, err
    lines = out.split("\n")[:-1]
    assert len(lines) == 6 and lines[3] == "" and all(len(line.split()) <= 2 for line in lines)


def test_baseline_lead_sentences(cli, tmp_path):
    docs = _write(tmp_path, "docs.jsonl", "".join(json.dumps({"document": d}) + "\n" for d in [
        "Mr. Smith wrote a tool. It does things.  It is fast", "no punctuation at all", "",
        "One.\nTwo spans\nlines. Three."]))
    code, out, err = cli("baseline", "--input", docs, "--field", "document", "--lead-sentences", 1)
    assert code == 0, err
    assert out.split("\n")[:-1] == ["Mr. Smith wrote a tool.", "no punctuation at all", "", "One."]
    code, out, err = cli("baseline", "--input", docs, "--field", "document", "--lead-sentences", 2)
    assert code == 0, err
    assert out.split("\n")[:-1] == ["Mr. Smith wrote a tool. It does things.", "no punctuation at all", "",
                                    "One. Two spans lines."]  # one line each: the sentence's newline collapsed


def test_a_file_evaluated_against_itself_scores_100(cli, tmp_path, records):
    refs = tmp_path / "refs.txt"
    refs.write_text("".join(r["summary"] + "\n" for r in records), encoding="utf-8")
    code, out, err = cli("evaluate", "--hyps", refs, "--refs", refs, "--output", tmp_path / "self.json")
    assert code == 0, err
    result = json.loads((tmp_path / "self.json").read_text())
    assert (result["rouge1"], result["rouge2"], result["rougeL"]) == (100.0, 100.0, 100.0)
    assert "100.00" in out


def test_quiet_drops_notes_and_the_count_unless_records_were_skipped_or_cut(cli, tiny_run, docs_txt, tmp_path):
    """--quiet, as its help says: no bar, no note, no count line, except the warning that the output lacks
    skipped records or summarizes cut documents from their beginning."""
    short = _write(tmp_path, "short.txt", "the lazy dog\nmarkets fell\n")
    code, out, err = cli("summarize", "--input", short, "--quiet")  # the ready model, and no note about it
    assert code == 0 and shown_lines(err) == [] and len(out.split("\n")[:-1]) == 2
    code, _, err = cli("summarize", "--model", tiny_run["dir"], "--input", short)
    assert code == 0 and shown_lines(err) == ["summarized 2 documents"]
    code, _, err = cli("summarize", "--model", tiny_run["dir"], "--input", short, "--quiet")
    assert code == 0 and shown_lines(err) == []
    long_doc = _write(tmp_path, "long.txt", "word " * 100 + "\nshort one\n")
    code, _, err = cli("summarize", "--model", tiny_run["dir"], "--input", long_doc, "--quiet")
    assert code == 0 and len(shown_lines(err)) == 1 and "1 longer than model.max_source_tokens" in err
    bad = _write(tmp_path, "bad.jsonl", b'{"document": "a b c d"}\nnot json\n')
    code, _, err = cli("score", "--model", tiny_run["dir"], "--input", bad, "--skip-bad", "--quiet")
    assert code == 0 and len(shown_lines(err)) == 1 and "skipped 1 bad records" in err
    code, out, _ = cli("summarize", "--help")
    assert "the count line still prints when records were skipped or documents cut" in " ".join(out.split())


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_summaries_on_the_terminal_are_not_cut_by_the_progress_bar(tiny_run, docs_txt, monkeypatch):
    """stdout and stderr one terminal: the summaries print clean lines and no bar is drawn between them."""
    from conftest import call_main

    out, err = _Terminal(), _Terminal()
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setattr(sys, "stderr", err)
    assert call_main(["summarize", "--model", tiny_run["dir"], "--input", docs_txt]) == 0
    lines = out.getvalue().split("\n")[:-1]
    assert len(lines) == 6 and not any("\r" in line or "doc/s" in line for line in lines)
    assert "\r" not in err.getvalue() and shown_lines(err.getvalue())[0].startswith("summarized 6 documents")


# ---------------------------------------------------------------- summarize: bad input


def _write(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return path


BAD_INPUTS = {
    "empty": ("empty.txt", b"", ["no documents"]),
    "binary": ("binary.txt", bytes(range(256)) * 4, ["not UTF-8"]),
    "latin1": ("latin1.txt", "caf\u00e9 cr\u00e8me br\u00fbl\u00e9e\n".encode("latin-1"), ["not UTF-8", "line 1"]),
    "no_field": ("nofield.jsonl", b'{"document": "a b c d e"}\n{"text": "no document here"}\n',
                 ["line 2", "document"]),
    "malformed_json": ("bad.jsonl", b'{"document": "a b c d e"}\n{"document": "unclosed\n', ["line 2", "JSON"]),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_summarize_bad_input_file_is_one_line(cli, tiny_run, tmp_path, case):
    name, content, fragments = BAD_INPUTS[case]
    path = _write(tmp_path, name, content)
    code, out, err = cli("summarize", "--model", tiny_run["dir"], "--input", path)
    assert_one_line_error(code, out, err, *fragments)


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_failed_summarize_leaves_an_existing_output_intact(cli, tiny_run, tmp_path, case):
    name, content, _ = BAD_INPUTS[case]
    path = _write(tmp_path, name, content)
    keep = tmp_path / "keep.txt"
    keep.write_text("KEEP\n", encoding="utf-8")
    code, out, err = cli("summarize", "--model", tiny_run["dir"], "--input", path, "--output", keep)
    assert_one_line_error(code, out, err)
    assert keep.read_text(encoding="utf-8") == "KEEP\n"


@pytest.mark.parametrize("args, fragments", [
    (["--words", "7"], ["--words", "between 1 and 6"]),
    (["--words", "0"], ["--words"]),
    (["--words", "three"], ["--words"]),
    (["--ratio", "0"], ["--ratio"]),
    (["--ratio", "1.5"], ["--ratio"]),
    (["--words", "2", "--ratio", "0.5"], ["not allowed with"]),
    (["--beams", "0"], ["--beams"]),
    (["--span-bonus", "-1"], ["--span-bonus", "[0, 20]"]),
    (["--span-bonus", "nan"], ["--span-bonus"]),
    (["--span-bonus", "much"], ["--span-bonus"]),
    (["--batch-size", "0"], ["--batch-size"]),
    (["--device", "tpu"], ["--device"]),
])
def test_summarize_bad_options_are_one_line(cli, tiny_run, docs_txt, tmp_path, args, fragments):
    keep = tmp_path / "keep.txt"
    keep.write_text("KEEP\n", encoding="utf-8")
    code, out, err = cli("summarize", "--model", tiny_run["dir"], "--input", docs_txt, "--output", keep, *args)
    assert_one_line_error(code, out, err, *fragments)
    assert keep.read_text(encoding="utf-8") == "KEEP\n"


def test_summarize_with_a_wrong_model_dir(cli, docs_txt, tmp_path):
    code, out, err = cli("summarize", "--model", tmp_path / "no_such_run", "--input", docs_txt)
    assert_one_line_error(code, out, err, "model directory not found")
    (tmp_path / "empty_dir").mkdir()
    code, out, err = cli("summarize", "--model", tmp_path / "empty_dir", "--input", docs_txt)
    assert_one_line_error(code, out, err, "not a summae model")


def test_summarize_with_a_checkpoint_missing_its_weights(cli, tiny_run, docs_txt, tmp_path):
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(tiny_run["dir"] / "last", broken)
    (broken / "compressor" / "model.safetensors").unlink()
    code, out, err = cli("summarize", "--model", broken, "--input", docs_txt)
    assert_one_line_error(code, out, err, "compressor")


def test_summarize_a_missing_input_file(cli, tiny_run, tmp_path):
    code, out, err = cli("summarize", "--model", tiny_run["dir"], "--input", tmp_path / "nope.txt")
    assert_one_line_error(code, out, err, "not found", "nope.txt")


def test_summarize_to_an_unwritable_output(cli, tiny_run, docs_txt, tmp_path):
    target = tmp_path / "no_such_dir" / "out.txt"
    code, out, err = cli("summarize", "--model", tiny_run["dir"], "--input", docs_txt, "--output", target)
    assert_one_line_error(code, out, err, "no_such_dir")
    assert not target.parent.exists()


def test_summarize_to_a_directory(cli, tiny_run, docs_txt, tmp_path):
    target = tmp_path / "a_directory"
    target.mkdir()
    code, out, err = cli("summarize", "--model", tiny_run["dir"], "--input", docs_txt, "--output", target)
    assert_one_line_error(code, out, err)
    assert target.is_dir() and not list(target.iterdir())


@pytest.mark.parametrize("command", ["summarize", "baseline"])
def test_output_to_a_directory_leaves_no_temporary_file(cli, tiny_run, docs_txt, tmp_path, command):
    target = tmp_path / "a_directory"
    target.mkdir()
    if command == "summarize":
        argv = ["summarize", "--model", tiny_run["dir"], "--input", docs_txt, "--output", target, "--quiet"]
    else:
        argv = ["baseline", "--input", docs_txt, "--lead", 2, "--output", target]
    code, out, err = cli(*argv)
    assert_one_line_error(code, out, err, command=command)
    assert ".tmp" not in err and str(target) in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_directory", "docs.txt"]


def test_summarize_skip_bad_keeps_going_and_counts(cli, tiny_run, tmp_path):
    path = _write(tmp_path, "mixed.jsonl", b'{"document": "a b c d"}\nnot json\n{"document": "e f g h"}\n')
    code, out, err = cli("summarize", "--model", tiny_run["dir"], "--input", path, "--skip-bad")
    assert code == 0, err
    assert len(out.split("\n")[:-1]) == 2
    assert "skipped 1 bad records" in err


# ---------------------------------------------------------------- train: bad input


@pytest.mark.parametrize("text, fragments", [
    ("train:\n  bogus_key: 1\n", ["unknown key 'train.bogus_key'"]),
    ("model:\n  d_model: thirty-two\n", ["model.d_model must be int"]),
    ("model: [1, 2]\n", ["model must be a mapping"]),
])
def test_train_with_a_bad_config_is_one_line(cli, tmp_path, text, fragments):
    config = _write(tmp_path, "bad.yaml", text)
    code, out, err = cli("train", "--config", config, "--output-dir", tmp_path / "run")
    assert_one_line_error(code, out, err, *fragments, command="train")
    assert not (tmp_path / "run").exists()


def test_train_with_a_missing_config_file(cli, tmp_path):
    code, out, err = cli("train", "--config", tmp_path / "missing.yaml", "--output-dir", tmp_path / "run")
    assert_one_line_error(code, out, err, "config file not found", command="train")


def test_train_with_a_bad_set_override(cli, tmp_path):
    code, out, err = cli("train", "--config", TINY, "--output-dir", tmp_path / "run", "--set", "train.stepz=3")
    assert_one_line_error(code, out, err, "train.stepz", command="train")


def test_train_with_train_files_that_match_nothing(cli, tmp_path):
    pattern = tmp_path / "nothing" / "*.jsonl"
    code, out, err = cli("train", "--config", TINY, "--output-dir", tmp_path / "run", "--quiet",
                         "--set", f"data.train_files=[{pattern}]")
    assert_one_line_error(code, out, err, "no file matches", command="train")


def test_train_with_no_train_files(cli, tmp_path):
    code, out, err = cli("train", "--config", TINY, "--output-dir", tmp_path / "run", "--quiet",
                         "--set", "data.train_files=[]")
    assert_one_line_error(code, out, err, "train_files", command="train")


# ---------------------------------------------------------------- train: files on the command line, no --config

# the tiny config's sizes (summae/configs/tiny.yaml) as --set items, over the packaged defaults
TINY_SETS = ["model.d_model=32", "model.encoder_layers=1", "model.decoder_layers=1", "model.heads=2",
             "model.ffn_dim=64", "model.max_source_tokens=24", "model.max_summary_tokens=8", "model.disc_d_model=16",
             "model.disc_filters=16", "tokenizer.vocab_size=100", "tokenizer.train_sentences=200",
             "summary.min_words=2", "summary.max_words=6", "summary.default_words=4", "train.batch_size=8",
             "train.steps=4", "train.pretrain_steps=2", "train.warmup_steps=1", "train.log_every=2",
             "train.sample_every=0", "train.eval_every=0", "train.save_every=0", "data.dev_size=4"]


def _set_args(items):
    return [arg for item in items for arg in ("--set", item)]


@pytest.fixture(scope="module")
def flags_run(tmp_path_factory, records):
    """`summae train --train-files docs.txt --minutes 5 --text-field body --set ...` in a fresh directory: no
    --config, a path relative to the current directory, no real texts."""
    from conftest import run_captured

    here = tmp_path_factory.mktemp("train_flags")
    docs = [json.loads(line)["document"] for _, line in zip(range(40), TEST_JSONL.open(encoding="utf-8"))]
    (here / "docs.txt").write_text("".join(d + "\n" for d in docs), encoding="utf-8")
    before = os.getcwd()
    os.chdir(here)
    try:
        code, out, err = run_captured(["train", "--train-files", "docs.txt", "--minutes", "5", "--text-field", "body",
                                       "--quiet", *_set_args(TINY_SETS)])
    finally:
        os.chdir(before)
    return {"here": here, "code": code, "out": out, "err": err, "dir": here / "runs" / "docs"}


def test_train_from_files_alone_writes_runs_slash_the_file_name(flags_run):
    assert flags_run["code"] == 0, flags_run["err"][-2000:]
    run = flags_run["dir"]  # the default --output-dir without --config: runs/<first train file's name>
    assert (run / "best" / "compressor" / "model.safetensors").is_file()
    assert json.loads((run / "last" / "trainer_state.json").read_text())["step"] == 4
    assert shown_lines(flags_run["err"])[-1].endswith("run directory runs/docs")
    assert flags_run["out"] == "" and "Traceback" not in flags_run["err"]


def test_train_without_real_texts_says_so_in_one_line(flags_run):
    lines = shown_lines(flags_run["err"])
    notes = [line for line in lines if "discriminator" in line or "real" in line]
    assert len(notes) == 1 and "without the discriminator" in notes[0] and "lead pseudo-summaries" in notes[0], lines


def test_train_flags_and_set_both_reach_the_saved_config(flags_run):
    import yaml

    saved = yaml.safe_load((flags_run["dir"] / "config.yaml").read_text(encoding="utf-8"))
    here = flags_run["here"]
    assert saved["name"] == "docs"
    assert saved["data"]["train_files"] == [str(here / "docs.txt")]  # relative to where the command ran
    assert saved["data"]["real_files"] == [] and saved["data"]["text_field"] == "body"
    assert saved["train"]["minutes"] == 5.0 and saved["train"]["pseudo"] == "lead"  # --minutes; no real texts
    assert saved["train"]["steps"] == 4 and saved["model"]["d_model"] == 32  # --set


def _train_config(*argv):
    from summae.cli import build_parser
    from summae.commands import train_config

    return train_config(build_parser().parse_args(["train", *map(str, argv)]))


def test_train_flags_override_a_config_and_resolve_from_the_current_directory(tmp_path, monkeypatch):
    (tmp_path / "a.jsonl").write_text('{"body": "x y z"}\n', encoding="utf-8")
    (tmp_path / "heads.txt").write_text("a headline\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    cfg = _train_config("--config", "tiny", "--train-files", "a.jsonl", "--real-files", "heads.txt", "--text-field",
                        "body", "--minutes", "0.5", "--set", "data.data_dir=/somewhere/else", "--set", "train.steps=3")
    assert cfg.name == "tiny" and cfg.model.d_model == 32  # the config's
    assert cfg.data.train_files == [str(tmp_path / "a.jsonl")] and cfg.data.real_files == [str(tmp_path / "heads.txt")]
    assert cfg.resolve_path(cfg.data.train_files[0]) == str(tmp_path / "a.jsonl")  # data.data_dir does not move it
    assert (cfg.data.text_field, cfg.train.minutes, cfg.train.steps) == ("body", 0.5, 3)


def test_train_defaults_pick_the_lead_only_without_real_texts(tmp_path, monkeypatch):
    (tmp_path / "news.jsonl.gz").write_bytes(b"")  # only resolved here, never read
    (tmp_path / "heads.txt").write_text("a headline\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    from summae.config import Config

    alone = _train_config("--train-files", "news.jsonl.gz")
    assert alone.train.pseudo == "lead" and alone.name == "news" and alone.data.real_files == []
    with_real = _train_config("--train-files", "news.jsonl.gz", "--real-files", "heads.txt")
    assert with_real.train.pseudo == Config().train.pseudo  # the recipe's own choice
    assert _train_config("--config", "tiny", "--set", "data.real_files=[]").train.pseudo == "lead"


def test_train_with_a_missing_train_file_is_one_line(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = cli("train", "--train-files", "nope.txt", "--quiet")
    assert code == 2
    assert_one_line_error(code, out, err, "no file matches nope.txt", command="train")
    code, out, err = cli("train", "--config", "tiny", "--real-files", "missing/*.txt", "--quiet")
    assert_one_line_error(code, out, err, "no file matches missing/*.txt", command="train")
    assert list(tmp_path.iterdir()) == []  # no run directory was made


@pytest.mark.parametrize("argv, fragments", [
    ([], ["no documents to train on", "--train-files"]),
    (["--train-files", "docs.txt", "--set", "data.train_files=[x.txt]"], ["--set data.train_files", "--train-files"]),
    (["--train-files", "docs.txt", "--minutes", "0"], ["--minutes", "> 0"]),
    (["--train-files", "docs.txt", "--set", "train.pseudo=extract"], ["train.pseudo=extract needs data.real_files"]),
])
def test_train_flag_misuse_is_one_line(cli, tmp_path, monkeypatch, argv, fragments):
    (tmp_path / "docs.txt").write_text("a b c\nd e f\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    code, out, err = cli("train", "--quiet", *argv)
    assert code == 2
    assert_one_line_error(code, out, err, *fragments, command="train")
    assert not (tmp_path / "runs").exists()


# ---------------------------------------------------------------- evaluate and baseline: bad input


def test_evaluate_with_mismatched_line_counts(cli, tmp_path):
    hyps = _write(tmp_path, "hyps.txt", "a b\nc d\n")
    refs = _write(tmp_path, "refs.txt", "a b\nc d\ne f\n")
    code, out, err = cli("evaluate", "--hyps", hyps, "--refs", refs)
    assert_one_line_error(code, out, err, "line counts", command="evaluate")


def test_evaluate_with_a_missing_file(cli, tmp_path):
    hyps = _write(tmp_path, "hyps.txt", "a b\n")
    code, out, err = cli("evaluate", "--hyps", hyps, "--refs", tmp_path / "missing.txt")
    assert_one_line_error(code, out, err, "missing.txt", command="evaluate")
    code, out, err = cli("evaluate", "--hyps", tmp_path / "missing.txt", "--refs", hyps)
    assert_one_line_error(code, out, err, "missing.txt", command="evaluate")


def test_evaluate_to_an_unwritable_output(cli, tmp_path):
    hyps = _write(tmp_path, "hyps.txt", "a b\n")
    code, out, err = cli("evaluate", "--hyps", hyps, "--refs", hyps, "--output", tmp_path / "no_dir" / "s.json")
    assert_one_line_error(code, out, err, command="evaluate")


@pytest.mark.parametrize("args", [["--lead", "0"], ["--lead", "-2"], ["--prefix-bytes", "0"], [],
                                  ["--lead-sentences", "0"], ["--lead-sentences", "x"],
                                  ["--lead", "3", "--lead-sentences", "1"],
                                  ["--lead-sentences", "1", "--prefix-bytes", "9"]])
def test_baseline_bad_options_are_one_line(cli, tmp_path, args):
    docs = _write(tmp_path, "docs.txt", "a b c d\n")
    code, out, err = cli("baseline", "--input", docs, *args)
    assert_one_line_error(code, out, err, command="baseline")


def test_baseline_with_a_missing_file(cli, tmp_path):
    code, out, err = cli("baseline", "--input", tmp_path / "missing.txt", "--lead", 3)
    assert_one_line_error(code, out, err, "missing.txt", command="baseline")


# ---------------------------------------------------------------- help and version


@pytest.mark.parametrize("argv", [["--help"], ["train", "--help"], ["demo", "--help"], ["summarize", "--help"],
                                  ["score", "--help"], ["plot", "--help"], ["evaluate", "--help"],
                                  ["baseline", "--help"]])
def test_help_of_every_subcommand_exits_zero(cli, argv):
    code, out, err = cli(*argv)
    assert code == 0, err
    assert out.startswith("usage: summae")


def test_cuda_graphs_are_asked_for_as_the_summarizer_defaults_them_off(cli):
    import inspect

    from summae.cli import build_parser
    from summae.summarize import Summarizer

    default = inspect.signature(Summarizer.from_pretrained).parameters["cuda_graphs"].default
    parse = build_parser().parse_args
    assert parse(["summarize", "--input", "x.txt"]).cuda_graphs is default is False
    assert parse(["summarize", "--input", "x.txt", "--cuda-graphs"]).cuda_graphs is True
    assert parse(["summarize", "--input", "x.txt", "--no-cuda-graphs"]).cuda_graphs is False  # old scripts still run
    code, out, _ = cli("summarize", "--help")
    assert "--cuda-graphs" in out and "--no-cuda-graphs" not in out


def test_no_subcommand_is_a_one_line_usage_error(cli):
    code, out, err = cli()
    assert code == 2 and len(shown_lines(err)) == 1 and "Traceback" not in err


def test_python_dash_m_help_and_version_in_a_subprocess():
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-m", "summae.cli", "--help"], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    for command in ("train", "demo", "summarize", "evaluate", "baseline"):
        assert command in done.stdout
    done = subprocess.run([sys.executable, "-m", "summae.cli", "--version"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)
    from summae import __version__

    assert done.returncode == 0 and done.stdout.strip() == f"summae {__version__}"


def test_summarize_precision_fp32_and_bf16_both_obey_the_word_target(cli, tiny_run, docs_txt):
    for precision in ("fp32", "bf16"):
        code, out, err = cli("summarize", "--model", tiny_run["dir"], "--input", docs_txt, "--words", 3, "--quiet",
                             "--precision", precision)
        assert code == 0, err
        lines = out.split("\n")[:-1]
        assert len(lines) == 6 and all(len(line.split()) <= 3 for line in lines) and any(lines)


def test_resolve_precision():
    import torch

    from summae.errors import SummaeError
    from summae.runtime import native_bf16, resolve_precision

    cpu = torch.device("cpu")
    assert resolve_precision("fp32", cpu) == "fp32" and resolve_precision("bf16", cpu) == "bf16"
    assert resolve_precision("auto", cpu) == ("bf16" if native_bf16(cpu) else "fp32")
    assert resolve_precision("auto", torch.device("meta")) == "fp32"
    with pytest.raises(SummaeError, match="--precision must be one of"):
        resolve_precision("fp8", cpu)


def test_bf16_summarizer_converts_only_its_compressor(tiny_run):
    import torch

    from summae.summarize import Summarizer

    summarizer = Summarizer.from_pretrained(tiny_run["dir"], device="cpu", precision="bf16")
    model = summarizer.model
    assert summarizer.precision == "bf16"
    assert all(p.dtype == torch.bfloat16 for p in model.compressor.parameters())
    assert model.reconstructor is None  # summarizing loads the compressor only
    if model.copy_head is not None:
        assert all(p.dtype == torch.float32 for p in model.copy_head.parameters())
    assert all(1 <= len(s.split()) <= 4 for s in summarizer(["a short test document about debian packages"] * 3,
                                                            words=4))


def test_summarizer_batches_documents_of_similar_token_counts_and_keeps_the_order(tiny_run, monkeypatch):
    from summae.summarize import Summarizer

    summarizer = Summarizer.from_pretrained(tiny_run["dir"], device="cpu", precision="fp32")
    # character length and token count disagree: long words are few tokens per character, "a b c" many
    docs = ["a b c d e f g h i j k l"[: 2 * n + 1] if n % 2 else "packages" * n for n in range(1, 13)]
    alone = [summarizer([d], words=3)[0] for d in docs]
    counts = {d: len(ids) for d, ids in zip(docs, summarizer.tokenizer(docs, add_special_tokens=False)["input_ids"])}
    batches = []
    real = summarizer._batch

    def spy(ids, texts, *rest):
        batches.append([counts[t] for t in texts])
        return real(ids, texts, *rest)

    monkeypatch.setattr(summarizer, "_batch", spy)
    assert summarizer(docs, words=3, batch_size=4) == alone  # input order, as if summarized one by one
    assert len(batches) == 3 and all(len(b) == 4 for b in batches)
    assert [c for b in batches for c in sorted(b)] == sorted(counts[d] for d in docs)  # batches cut a token-sorted list


def test_cli_leaves_tokenizer_parallelism_to_the_user(monkeypatch):
    # forcing TOKENIZERS_PARALLELISM=false encoded each batch on one core: 3/4 of summarizing time on a GPU
    from summae.cli import quiet_libraries

    monkeypatch.delenv("TOKENIZERS_PARALLELISM", raising=False)
    quiet_libraries()
    assert "TOKENIZERS_PARALLELISM" not in os.environ
    monkeypatch.setenv("TOKENIZERS_PARALLELISM", "false")
    quiet_libraries()
    assert os.environ["TOKENIZERS_PARALLELISM"] == "false"


def test_parallel_tokenizing_gives_the_same_ids(tiny_run, monkeypatch):
    from summae.tokenization import encode_texts
    from summae.model.build import load_for_inference

    _, tokenizer, _ = load_for_inference(tiny_run["dir"] / "best")
    texts = [f"the {i} quick brown foxes jumped over {i * 7} lazy dogs near the river bank" for i in range(300)]
    monkeypatch.setenv("TOKENIZERS_PARALLELISM", "false")
    serial = encode_texts(tokenizer, texts, 12)
    monkeypatch.setenv("TOKENIZERS_PARALLELISM", "true")
    assert encode_texts(tokenizer, texts, 12) == serial


def test_the_cuda_graph_branch_pads_widths_and_writes_the_same_summaries(tiny_run):
    """Summarizer's CUDA-graph branch, run on the CPU with the graph replaced by the call it captures
    (write_summary(..., sync_free=True) from the encoder states): widths padded to multiples of 8, same summaries."""
    from summae.summarize import Summarizer

    plain = Summarizer.from_pretrained(tiny_run["dir"], device="cpu", precision="fp32")
    graphed = Summarizer.from_pretrained(tiny_run["dir"], device="cpu", precision="fp32")
    assert plain.writer is None  # graphs only on CUDA
    widths = []

    def writer(enc, comp_ids, comp_mask, target):
        widths.append(comp_ids.shape[1] - 1)  # minus the length token
        return graphed.model.write_summary(comp_ids, comp_mask, target, enc=enc, sync_free=True)

    graphed.writer = writer
    records = (REPO / "summae" / "data" / "debian" / "test.jsonl").read_text(encoding="utf-8").splitlines()[:60]
    docs = [" ".join(json.loads(r)["document"].split()[: 1 + i % 23]) for i, r in enumerate(records)]
    limit = plain.cfg.model.max_source_tokens
    assert graphed(docs, batch_size=8) == plain(docs, batch_size=8)
    assert widths and all(w % 8 == 0 or w == limit for w in widths) and len(set(widths)) > 1


def test_tokenizing_the_next_window_ahead_gives_the_same_summaries_in_order(tiny_run):
    """Summarizer.prefetch (on by default on a GPU): window k+1 is tokenized in a thread while k decodes."""
    from summae import summarize as module
    from summae.errors import SummaeError
    from summae.summarize import Summarizer

    summarizer = Summarizer.from_pretrained(tiny_run["dir"], device="cpu", precision="fp32")
    assert summarizer.prefetch is False  # CPU: decoding already uses every core
    records = (REPO / "summae" / "data" / "debian" / "test.jsonl").read_text(encoding="utf-8").splitlines()
    docs = [" ".join(json.loads(r)["document"].split()[: 1 + i % 19]) for i, r in enumerate(records[:75])]
    docs[7] = ""  # an empty document keeps its place
    batch = 2
    assert len(docs) > 2 * batch * module.SORT_WINDOW  # three windows, the last one short
    plain = summarizer(docs, batch_size=batch)
    summarizer.prefetch = True
    assert summarizer(docs, batch_size=batch) == plain
    assert list(summarizer.stream(iter(docs), batch_size=batch)) == plain
    with pytest.raises(SummaeError, match=r"texts\[3\] is int"):
        summarizer(docs[:3] + [5], batch_size=batch)


def test_default_batch_size_is_larger_on_a_gpu_and_shrinks_with_beams():
    from summae.summarize import default_batch_size

    assert default_batch_size("cpu") == default_batch_size("cpu", beams=4) == 256
    assert default_batch_size("cuda") == 2048 and default_batch_size("cuda:1", beams=4) == 512
    assert default_batch_size("cuda", beams=64) == 32 and default_batch_size("cuda", beams=1000) == 16
