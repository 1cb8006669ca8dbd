"""Bad input, command by command (issue 5; docs/robustness.md is the same list, run through the real CLI by
scripts/robustness_report.py): each case either fails with one line on stderr and exit 2, or is a
documented skip with a count, and a file the user already had is never damaged."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REPO, TINY, shown_lines

from summae.errors import SummaeError

LATIN1 = "caf\u00e9 cr\u00e8me br\u00fbl\u00e9e and more words here\n".encode("latin-1")
BINARY = bytes(range(256)) * 4  # starts with a NUL byte
NON_LATIN = "\u8fd9\u662f\u4e00\u4e2a\u6d4b\u8bd5\u53e5\u5b50\n\u53e6\u4e00\u4e2a\u53e5\u5b50\u5728\u8fd9\u91cc\n"
DOCS = "the quick brown fox jumps over the lazy dog today\nmarkets fell sharply on monday after the news\n"
KEEP = "KEEP: written before this run\n"


def write(path: Path, content) -> Path:
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return path


def one_line_error(code, out, err, command, *fragments) -> str:
    """The single stderr line of a failed command, checked: exit 2, `summae CMD: error: `, no traceback."""
    assert code == 2, f"exit {code}; stderr: {err!r}"
    lines = shown_lines(err)
    assert len(lines) == 1, f"expected one line on stderr, got {lines}"
    assert lines[0].startswith(f"summae {command}: error: "), lines[0]
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    assert "Traceback" not in err + out
    return lines[0]


def partials(path: Path) -> list[Path]:
    """The temporary files of runs that wrote `path` (OutputSink: PATH.<random>.partial), kept by failed runs."""
    return sorted(path.parent.glob(f"{path.name}.*.partial"))


@pytest.fixture
def keep(tmp_path) -> Path:
    """An output file that exists before the command runs; a failed run must leave it as it was."""
    return write(tmp_path / "keep.txt", KEEP)


def summarize(cli, run, path, *args, output=None):
    argv = ["summarize", "--model", run["dir"], "--input", path, "--quiet"]
    return cli(*argv, *(["--output", output] if output else []), *args)


def train(cli, tmp_path, *sets):
    argv = ["train", "--config", TINY, "--output-dir", tmp_path / "run", "--quiet"]
    for item in sets:
        argv += ["--set", item]
    return cli(*argv)


# ---------------------------------------------------------------- files that are not (UTF-8) text

@pytest.mark.parametrize("kind", ["binary", "latin1"])
@pytest.mark.parametrize("command", ["summarize", "baseline", "evaluate", "train"])
def test_not_utf8_is_one_line_with_line_and_offset(cli, tiny_run, tmp_path, keep, kind, command):
    path = write(tmp_path / "in.txt", DOCS.encode() + (BINARY if kind == "binary" else LATIN1))
    if command == "summarize":
        result = summarize(cli, tiny_run, path, output=keep)
    elif command == "baseline":
        result = cli("baseline", "--input", path, "--lead", 3, "--output", keep)
    elif command == "evaluate":
        result = cli("evaluate", "--hyps", path, "--refs", path, "--output", keep)
    else:
        result = train(cli, tmp_path, f"data.train_files=[{path}]")
    line = one_line_error(*result, command, "in.txt is not UTF-8 text (line 3)")
    assert keep.read_text() == KEEP
    kept = partials(keep)  # baseline streams: the two good lines it wrote are kept aside, and the error says where
    if command == "baseline":
        assert len(kept) == 1 and kept[0].read_text() == "the quick brown\nmarkets fell sharply\n"
        assert line.endswith(f"; output so far (2 lines) kept in {kept[0]}")
    else:
        assert kept == []
    if kind == "binary":
        assert "looks binary (a NUL byte at byte offset 96)" in line  # right after DOCS' 96 bytes
    else:
        assert "invalid byte 0xe9 at byte offset 99" in line  # DOCS' 96 bytes, then "caf", then é
        assert ("iconv" if command == "train" else "--encoding latin-1") in line


@pytest.mark.parametrize("command", ["summarize", "baseline", "evaluate"])
def test_encoding_latin1_reads_latin1(cli, tiny_run, tmp_path, command):
    path = write(tmp_path / "in.txt", LATIN1)
    if command == "summarize":
        code, out, err = summarize(cli, tiny_run, path, "--encoding", "latin-1")
    elif command == "baseline":
        code, out, err = cli("baseline", "--input", path, "--lead", 2, "--encoding", "latin-1")
        assert out == "caf\u00e9 cr\u00e8me\n"
    else:
        code, out, err = cli("evaluate", "--hyps", path, "--refs", path, "--encoding", "latin-1")
        assert "100.00" in out
    assert code == 0 and len(out.splitlines()) >= 1, err


@pytest.mark.parametrize("encoding, fragment", [("klingon", "unknown encoding"), ("utf-16", "one byte")])
def test_unusable_encoding_is_one_line(cli, tmp_path, encoding, fragment):
    path = write(tmp_path / "in.txt", DOCS)
    one_line_error(*cli("baseline", "--input", path, "--lead", 2, "--encoding", encoding), "baseline", fragment)


# ---------------------------------------------------------------- empty files and empty lines

@pytest.mark.parametrize("content", ["", "  \n\t\n\n"])
@pytest.mark.parametrize("command", ["summarize", "baseline", "evaluate", "train"])
def test_empty_or_blank_input(cli, tiny_run, tmp_path, keep, content, command):
    path = write(tmp_path / "in.txt", content)
    if command == "train":
        one_line_error(*train(cli, tmp_path, f"data.train_files=[{path}]"), "train", "in.txt has no text")
        return
    if command == "summarize":
        result = summarize(cli, tiny_run, path, output=keep)
    elif command == "baseline":
        result = cli("baseline", "--input", path, "--lead", 3, "--output", keep)
    else:
        result = cli("evaluate", "--hyps", path, "--refs", path)
    if not content:
        one_line_error(*result, command, "in.txt")
        assert keep.read_text() == KEEP
        return
    code, out, err = result
    assert code == 0, err
    if command == "evaluate":  # blank lines stay (alignment), they score 0, and the user is told
        assert "in.txt: 3 of 3 lines are empty" in err
    else:  # one (empty) output line per input line: the outputs stay line-aligned
        assert keep.read_text() == "\n\n\n"


# ---------------------------------------------------------------- long and many lines

def test_a_1mb_line_is_cut_to_max_source_tokens_and_counted(cli, tiny_run, tmp_path):
    path = write(tmp_path / "long.txt", "word " * 200_000 + "\nshort document here\n")  # a 1 MB line
    code, out, err = summarize(cli, tiny_run, path)
    assert code == 0, err
    assert len(out.split("\n")[:-1]) == 2
    assert shown_lines(err) == ["summarized 2 documents, 1 longer than model.max_source_tokens (24 tokens) "
                                "were cut to it"]


def test_baseline_streams_a_100k_line_input(cli, tmp_path):
    path = write(tmp_path / "many.txt", "".join(f"document {i} with a few words\n" for i in range(100_000)))
    out_path = tmp_path / "lead.txt"
    code, _, err = cli("baseline", "--input", path, "--lead", 2, "--output", out_path)
    assert code == 0, err
    lines = out_path.read_text().split("\n")[:-1]
    assert len(lines) == 100_000 and lines[-1] == "document 99999"


@pytest.mark.slow
def test_summarize_streams_a_100k_line_input(tmp_path, tiny_run):
    """Real process: peak memory must not grow with the input (the 10k-line run is the baseline)."""
    peaks = {}
    for n in (10_000, 100_000):
        path = write(tmp_path / f"in{n}.txt", "".join(f"line {i} of a long input file\n" for i in range(n)))
        out = tmp_path / f"out{n}.txt"
        argv = ["summarize", "--model", str(tiny_run["dir"]), "--input", str(path), "--output", str(out), "--quiet",
                "--batch-size", "256", "--device", "cpu"]
        code = (f"import resource, sys; from summae.cli import main; rc = main({argv!r}); "
                "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss); sys.exit(rc)")
        proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=3600)
        assert proc.returncode == 0, proc.stderr[-2000:]
        peaks[n] = int(proc.stdout.split()[-1])  # KiB
        assert len(out.read_text().split("\n")[:-1]) == n
    assert peaks[100_000] < peaks[10_000] + 50_000, peaks  # 10x the input, < 50 MB more memory


# ---------------------------------------------------------------- jsonl records

BAD_JSONL = b'{"document": "a b c d e"}\n{"document": "unclosed\n{"text": "no document"}\n{"document": "f g h"}\n'


@pytest.mark.parametrize("command", ["summarize", "baseline", "evaluate", "train"])
def test_malformed_json_line_names_line_and_reason(cli, tiny_run, tmp_path, keep, command):
    path = write(tmp_path / "in.jsonl", BAD_JSONL)
    if command == "summarize":
        result = summarize(cli, tiny_run, path, output=keep)
    elif command == "baseline":
        result = cli("baseline", "--input", path, "--lead", 3, "--field", "document", "--output", keep)
    elif command == "evaluate":
        result = cli("evaluate", "--hyps", path, "--refs", path, "--field", "document", "--output", keep)
    else:
        result = train(cli, tmp_path, f"data.train_files=[{path}]")
    line = one_line_error(*result, command, "in.jsonl line 2: ", "JSON (")
    assert "column" in line
    assert keep.read_text() == KEEP


@pytest.mark.parametrize("flag", ["--skip-bad", "--skip-bad-records"])
def test_summarize_skips_bad_records_with_a_count(cli, tiny_run, tmp_path, keep, flag):
    path = write(tmp_path / "in.jsonl", BAD_JSONL)
    code, _, err = summarize(cli, tiny_run, path, flag, output=keep)
    assert code == 0, err
    assert shown_lines(err) == ["summarized 2 documents, skipped 2 bad records"]  # shown even with --quiet
    records = [json.loads(line) for line in keep.read_text().splitlines()]
    assert [r["document"] for r in records] == ["a b c d e", "f g h"]
    assert not partials(keep)


@pytest.mark.parametrize("command", ["summarize", "baseline", "evaluate"])
def test_jsonl_record_without_the_field_is_one_line(cli, tiny_run, tmp_path, command):
    path = write(tmp_path / "in.jsonl", b'{"document": "a b c"}\n{"text": "x y z"}\n')
    if command == "summarize":
        result = summarize(cli, tiny_run, path)
    elif command == "baseline":
        result = cli("baseline", "--input", path, "--lead", 3, "--field", "document")
    else:
        result = cli("evaluate", "--hyps", path, "--refs", path, "--field", "document")
    one_line_error(*result, command, "in.jsonl line 2: ", "document")


def test_load_texts_counts_records_without_the_field(tmp_path, caplog):
    """Training reads with datasets and skips records that lack the text field: it says how many."""
    from summae.loading import load_texts

    lines = [{"document": f"document number {i}"} for i in range(5)] + [{"text": "x"}, {"document": None}]
    path = write(tmp_path / "in.jsonl", "".join(json.dumps(r) + "\n" for r in lines))
    with caplog.at_level("WARNING", logger="summae.loading"):
        assert len(load_texts(str(path))) == 5
    assert "skipped 2 of 7 records without text in 'document'" in caplog.text


# ---------------------------------------------------------------- models, configs and length targets

def test_wrong_model_directory(cli, tmp_path):
    docs = write(tmp_path / "in.txt", DOCS)
    one_line_error(*cli("summarize", "--model", tmp_path / "nope", "--input", docs), "summarize", "nope")
    one_line_error(*cli("summarize", "--model", docs, "--input", docs), "summarize")
    from summae.summarize import Summarizer

    with pytest.raises(SummaeError, match="nope"):
        Summarizer.from_pretrained(tmp_path / "nope")


@pytest.mark.parametrize("text, fragment", [
    ("model:\n  d_modle: 32\n", "unknown key 'model.d_modle'"),
    ("train:\n  steps: many\n", "train.steps must be int"),
    ("train:\n  lr: [1, 2]\n", "train.lr must be float"),
    ("summary: 3\n", "summary must be a mapping"),
    ("\x00\x01binary", "not valid YAML"),
])
def test_bad_config_file(cli, tmp_path, text, fragment):
    config = write(tmp_path / "bad.yaml", text)
    one_line_error(*cli("train", "--config", config, "--output-dir", tmp_path / "run"), "train", fragment)


@pytest.mark.parametrize("item, fragment", [
    ("summary.min_words=-1", "summary.min_words must be >= 1"),
    ("summary.max_words=-3", "summary.max_words"),
    ("summary.default_words=-2", "summary.default_words"),
    ("summary.ratio_min=-0.1", "ratio"),
    ("model.max_summary_tokens=0", "model.max_summary_tokens"),
    ("model.max_source_tokens=-1", "model.max_source_tokens"),
    ("train.nonsense=1", "unknown key 'train.nonsense'"),
    ("train.steps=ten", "train.steps must be int"),
])
def test_bad_set_override_and_length_targets(cli, tmp_path, item, fragment):
    one_line_error(*train(cli, tmp_path, item), "train", fragment)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("args", [["--words", "0"], ["--words", "-2"], ["--ratio", "0"], ["--ratio", "-0.5"]])
def test_summarize_zero_or_negative_targets(cli, tiny_run, tmp_path, keep, args):
    docs = write(tmp_path / "in.txt", DOCS)
    one_line_error(*summarize(cli, tiny_run, docs, *args, output=keep), "summarize", args[0])
    assert keep.read_text() == KEEP


@pytest.mark.parametrize("args", [["--lead", "0"], ["--lead", "-1"], ["--prefix-bytes", "0"]])
def test_baseline_zero_or_negative_targets(cli, tmp_path, args):
    docs = write(tmp_path / "in.txt", DOCS)
    one_line_error(*cli("baseline", "--input", docs, *args), "baseline", args[0])


@pytest.mark.parametrize("texts, kwargs, fragment", [
    (["a b c"], {"words": 0}, "--words"), (["a b c"], {"words": -1}, "--words"),
    (["a b c"], {"ratio": 0.0}, "--ratio"), (["a b c"], {"words": True}, "whole number"),
    (["a b c"], {"words": 2.5}, "whole number"), ("a single string", {}, "not a single string"),
    (["fine", None], {}, "texts[1] is NoneType"),
])
def test_python_api_bad_requests(tiny_run, texts, kwargs, fragment):
    from summae.summarize import Summarizer

    summarizer = Summarizer.from_pretrained(tiny_run["dir"], device="cpu")
    with pytest.raises(SummaeError, match=fragment.replace("[", r"\[")):
        summarizer(texts, **kwargs)


# ---------------------------------------------------------------- outputs

@pytest.mark.parametrize("command", ["summarize", "baseline", "evaluate"])
def test_unwritable_output_fails_first(cli, tiny_run, tmp_path, command):
    docs = write(tmp_path / "in.txt", DOCS)
    target = tmp_path / "in.txt" / "out.txt"  # a "directory" that is a file: unwritable even for root
    if command == "summarize":
        result = summarize(cli, tiny_run, docs, output=target)
    elif command == "baseline":
        result = cli("baseline", "--input", docs, "--lead", 2, "--output", target)
    else:
        result = cli("evaluate", "--hyps", docs, "--refs", docs, "--output", target)
    code, out, err = result
    one_line_error(code, out, err, command, f"cannot write {target}")
    assert out == ""  # evaluate fails before it prints any scores
    assert docs.read_text() == DOCS


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_output_in_a_read_only_directory(cli, tmp_path):
    docs = write(tmp_path / "in.txt", DOCS)
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        result = cli("baseline", "--input", docs, "--lead", 2, "--output", locked / "out.txt")
        one_line_error(*result, "baseline", "permission denied")
    finally:
        locked.chmod(0o700)


def test_train_output_dir_that_is_a_file(cli, tmp_path):
    target = write(tmp_path / "run", "not a directory\n")
    one_line_error(*cli("train", "--config", TINY, "--output-dir", target, "--quiet"), "train", "is a file")
    assert target.read_text() == "not a directory\n"


# ---------------------------------------------------------------- interrupted summarize

def test_interrupted_summarize_keeps_the_old_output_and_a_partial(cli, tiny_run, tmp_path, keep, monkeypatch):
    """Ctrl-C after the first window of batches (summaries are written a length-sorted window at a time):
    exit 130, FILE untouched, the run's FILE.<random>.partial has the finished summaries and the interrupted
    line names it; a re-run replaces FILE and leaves that file alone (it could be a concurrent run's)."""
    from summae import summarize as module

    window = 2 * module.SORT_WINDOW  # documents per window at --batch-size 2
    docs = write(tmp_path / "in.txt", DOCS * (window // 2 + 2))  # one full window, then 4 more documents
    real_batch = module.Summarizer._batch
    calls = []

    def interrupted(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == module.SORT_WINDOW + 1:  # the first batch of the second window
            raise KeyboardInterrupt
        return real_batch(self, *args, **kwargs)

    monkeypatch.setattr(module.Summarizer, "_batch", interrupted)
    code, _, err = summarize(cli, tiny_run, docs, "--batch-size", 2, output=keep)
    (partial,) = partials(keep)
    assert code == 130
    assert shown_lines(err) == [f"summae summarize: interrupted; output so far ({window} lines) kept in {partial}"]
    assert keep.read_text() == KEEP
    assert len(partial.read_text().split("\n")[:-1]) == window
    monkeypatch.setattr(module.Summarizer, "_batch", real_batch)
    code, _, err = summarize(cli, tiny_run, docs, "--batch-size", 2, output=keep)
    assert code == 0, err
    assert len(keep.read_text().split("\n")[:-1]) == window + 4 and partials(keep) == [partial]


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL])
def test_signalled_summarize_process(tiny_run, tmp_path, keep, sig):
    """A real `python -m summae.cli summarize` process, signalled once its FILE.<random>.partial has lines."""
    docs = write(tmp_path / "in.txt", DOCS * 500)
    argv = [sys.executable, "-m", "summae.cli", "summarize", "--model", str(tiny_run["dir"]), "--input", str(docs),
            "--output", str(keep), "--quiet", "--batch-size", "8", "--device", "cpu"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(argv, cwd=REPO, env=env, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 600
    while not (partials(keep) and partials(keep)[0].stat().st_size > 0) and proc.poll() is None:
        assert time.monotonic() < deadline, "no output after 10 minutes"
        time.sleep(0.2)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == (-9 if sig == signal.SIGKILL else 130), err
    assert keep.read_text() == KEEP
    (partial,) = partials(keep)
    lines = partial.read_text().split("\n")
    assert len(lines) >= 2  # line-buffered: complete lines made it to disk
    if sig == signal.SIGINT:
        assert f"lines) kept in {partial}" in err
    proc = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, proc.stderr
    assert len(keep.read_text().split("\n")[:-1]) == 1000 and partials(keep) == [partial]


# ---------------------------------------------------------------- evaluate: text rouge-score cannot see

def test_evaluate_non_latin_text_warns_that_scores_are_meaningless(cli, tmp_path):
    path = write(tmp_path / "zh.txt", NON_LATIN)
    code, out, err = cli("evaluate", "--hyps", path, "--refs", path)
    assert code == 0
    assert shown_lines(err) == ["warning: most text is non-Latin; rouge-score ignores it, so these scores are "
                                "meaningless"]
