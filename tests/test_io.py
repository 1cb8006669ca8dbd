"""summae.output: OutputSink (each run its own temporary file, renamed onto FILE at the end, so runs that
write the same FILE at once never mix) and annotate_file's progress bar, which never draws among summaries
on the terminal."""

import io
import os
import stat
import subprocess
import sys
import threading
import time

import pytest
from conftest import REPO

from summae.errors import SummaeError
from summae.output import OutputSink, annotate_file, same_terminal


def partials(path) -> list:
    return sorted(path.parent.glob(f"{path.name}.*.partial"))


# ---------------------------------------------------------------- OutputSink


def test_two_writers_of_one_file_at_once_each_succeed_and_one_wins_whole(tmp_path):
    """Both sinks are open and half-written before either finishes (the barrier): the file ends as exactly one
    writer's complete lines, both finish without an error, and no temporary file is left."""
    target = tmp_path / "out.txt"
    target.write_text("OLD\n", encoding="utf-8")
    contents = {name: [f"{name} line {i}" for i in range(500)] for name in ("words5", "words8")}
    halfway, errors, finished = threading.Barrier(2), [], []

    def run(name):
        try:
            with OutputSink(str(target)) as sink:
                for i, line in enumerate(contents[name]):
                    if i == 250:
                        halfway.wait(timeout=30)
                    sink.write(line)
            finished.append(name)
        except BaseException as err:  # noqa: BLE001 - the test reports whatever a writer raised
            errors.append(err)

    threads = [threading.Thread(target=run, args=(name,)) for name in contents]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == [] and sorted(finished) == sorted(contents)
    assert target.read_text(encoding="utf-8").splitlines() == contents[finished[-1]]  # the last rename wins
    assert partials(target) == []


def test_two_processes_writing_one_output_at_once_both_succeed(tmp_path):
    """The reported case, through the real CLI: two runs over the same input and --output with different
    lengths (`summae baseline --lead 5` and `--lead 8`, the same OutputSink as summarize). Their inputs come
    through pipes held open here, so both runs have started writing before either finishes."""
    target = tmp_path / "out.txt"
    docs = [" ".join(f"w{i}_{j}" for j in range(12)) for i in range(200)]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    procs = {lead: subprocess.Popen([sys.executable, "-m", "summae.cli", "baseline", "--input", "-", "--lead",
                                     str(lead), "--output", str(target)], stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
             for lead in (5, 8)}
    for proc in procs.values():  # the first half to both: each run has its own temporary file open
        proc.stdin.write("".join(d + "\n" for d in docs[:100]))
        proc.stdin.flush()
    deadline = time.monotonic() + 120
    while len(partials(target)) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(partials(target)) == 2  # both runs are writing, each to its own file
    results = {}
    for lead, proc in procs.items():  # the rest, and end of input: --lead 5 finishes first, then --lead 8
        out, err = proc.communicate("".join(d + "\n" for d in docs[100:]), timeout=120)
        results[lead] = (proc.returncode, out, err)
    assert results == {5: (0, "", ""), 8: (0, "", "")}
    assert target.read_text(encoding="utf-8").splitlines() == [" ".join(d.split()[:8]) for d in docs]
    assert partials(target) == []


def test_a_failed_writer_keeps_its_lines_aside_and_names_them(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("OLD\n", encoding="utf-8")
    with pytest.raises(SummaeError, match="boom") as caught:
        with OutputSink(str(target)) as sink:
            sink.write("first")
            sink.write("second")
            raise SummaeError("boom")
    (kept,) = partials(target)
    assert caught.value.__notes__ == [f"output so far (2 lines) kept in {kept}"] and sink.kept == kept
    assert kept.read_text(encoding="utf-8") == "first\nsecond\n"
    assert target.read_text(encoding="utf-8") == "OLD\n"  # untouched until a run succeeds
    with OutputSink(str(target)) as sink:  # a later run replaces FILE and leaves the other run's lines alone
        sink.write("new")
    assert target.read_text(encoding="utf-8") == "new\n" and partials(target) == [kept]


def test_a_writer_that_failed_before_writing_leaves_nothing(tmp_path):
    target = tmp_path / "out.txt"
    with pytest.raises(KeyboardInterrupt) as caught:
        with OutputSink(str(target)):
            raise KeyboardInterrupt
    assert not getattr(caught.value, "__notes__", None)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("old_mode", [None, 0o600, 0o644])
def test_the_output_gets_the_mode_a_plain_write_would_give(tmp_path, old_mode):
    """A new FILE: 0666 less the umask (not mkstemp's 0600); an existing FILE keeps its mode."""
    target = tmp_path / "out.txt"
    if old_mode is not None:
        target.write_text("OLD\n", encoding="utf-8")
        target.chmod(old_mode)
    umask = os.umask(0o022)
    try:
        with OutputSink(str(target)) as sink:
            sink.write("x")
    finally:
        os.umask(umask)
    assert stat.S_IMODE(target.stat().st_mode) == (0o644 if old_mode is None else old_mode)


def test_stdout_sink_writes_lines_and_no_file(tmp_path, capsys):
    with OutputSink("-") as sink:
        sink.write("a")
        sink.write("b")
    assert capsys.readouterr().out == "a\nb\n" and sink.partial is None


# ---------------------------------------------------------------- progress bar vs summaries on a terminal


class FakeTerminal(io.StringIO):
    def isatty(self):
        return True


def annotate(tmp_path, output, progress=True):
    docs = tmp_path / "docs.txt"
    docs.write_text("one two three\nfour five six\nseven eight\n", encoding="utf-8")
    produce = lambda texts: (t.upper() for t in texts)  # noqa: E731
    return annotate_file(str(docs), output, produce, field="document", output_field="x", overwrite=False, fmt=None,
                         skip_bad=False, encoding="utf-8", progress=progress)


def test_no_bar_between_summaries_when_stdout_and_stderr_are_one_terminal(tmp_path, monkeypatch):
    terminal_out, terminal_err = FakeTerminal(), FakeTerminal()
    monkeypatch.setattr(sys, "stdout", terminal_out)
    monkeypatch.setattr(sys, "stderr", terminal_err)
    assert annotate(tmp_path, None)["documents"] == 3
    assert terminal_out.getvalue() == "ONE TWO THREE\nFOUR FIVE SIX\nSEVEN EIGHT\n"
    assert terminal_err.getvalue() == ""  # the lines scrolling by are the progress


@pytest.mark.parametrize("to_file", [True, False])
def test_the_bar_stays_where_it_cannot_cut_a_summary(tmp_path, monkeypatch, to_file):
    """--output FILE, or stdout redirected (`> out.txt`, a pipe): the bar runs on the terminal's stderr."""
    out, terminal_err = io.StringIO(), FakeTerminal()
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setattr(sys, "stderr", terminal_err)
    target = tmp_path / "out.txt"
    annotate(tmp_path, str(target) if to_file else None)
    summaries = target.read_text(encoding="utf-8") if to_file else out.getvalue()
    assert summaries == "ONE TWO THREE\nFOUR FIVE SIX\nSEVEN EIGHT\n"
    assert "doc" in terminal_err.getvalue()  # tqdm drew (and, leave=False, cleared) its bar there


def test_same_terminal_on_real_terminals():
    import pty

    first, first_tty = pty.openpty()
    second, second_tty = pty.openpty()
    streams = [os.fdopen(fd, "w") for fd in (first_tty, os.dup(first_tty), second_tty)]
    try:
        one, same, other = streams
        assert same_terminal(one, same)
        assert not same_terminal(one, other)
        with open(os.devnull, "w") as devnull:
            assert not same_terminal(devnull, one) and not same_terminal(one, devnull)
    finally:
        for stream in streams:
            stream.close()
        os.close(first)
        os.close(second)
