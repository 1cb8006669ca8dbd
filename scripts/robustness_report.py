"""Run every bad-input case of issue 5 through the real CLI and write docs/robustness.md.

Each case makes its bad input in a temporary directory, runs `python -m summae.cli ...` as a subprocess,
and records the exit code, the last line the terminal shows on stderr, and whether an output file that
existed before the run still holds what it held. Summarize cases need a model: --model reuses a run
directory, else summae/configs/tiny.yaml is trained once into the temporary directory (a minute or two on CPU).

    python scripts/robustness_report.py [--model runs/tiny] [--output docs/robustness.md]
"""

from __future__ import annotations

import argparse
import datetime
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
KEEP = "KEEP: written before this run\n"  # what the pre-existing output file holds
DOCS = "the quick brown fox jumps over the lazy dog today\nmarkets fell sharply on monday after the news\n"
LATIN1 = "caf\u00e9 cr\u00e8me br\u00fbl\u00e9e and more words\n".encode("latin-1")
ZH = "\u8fd9\u662f\u4e00\u4e2a\u6d4b\u8bd5\u53e5\u5b50\n\u53e6\u4e00\u4e2a\u53e5\u5b50\u5728\u8fd9\u91cc\n"
BAD_JSONL = '{"document": "a b c d e"}\n{"document": "unclosed\n{"text": "no document"}\n{"document": "f g h"}\n'


@dataclass
class Case:
    name: str  # the bad input, as the issue lists it
    argv: list[str]  # after `summae`; {d} is the temp dir, {model} the model, {keep} the pre-existing output
    files: dict  # file name -> content (str or bytes) created in the temp dir first
    keep: bool = False  # whether {keep} exists before the run (and must survive it)


def cases() -> list[Case]:
    s = ["summarize", "--model", "{model}", "--quiet", "--output", "{keep}", "--input"]
    b = ["baseline", "--lead", "3", "--output", "{keep}", "--input"]
    e = ["evaluate", "--output", "{keep}", "--hyps"]
    t = ["train", "--config", str(REPO / "summae" / "configs" / "tiny.yaml"), "--output-dir", "{d}/run", "--quiet",
         "--set"]
    out = []
    for name, file, content in [("empty file", "empty.txt", ""), ("whitespace-only lines", "blank.txt", " \n\t\n\n"),
                                ("binary file", "bin.txt", DOCS.encode() + bytes(range(256)) * 4),
                                ("latin-1 text", "latin1.txt", DOCS.encode() + LATIN1)]:
        path = "{d}/" + file
        files = {file: content}
        out += [Case(name, s + [path], files, keep=True), Case(name, b + [path], files, keep=True),
                Case(name, e + [path, "--refs", path], files, keep=True),
                Case(name, t + [f"data.train_files=[{path}]"], files)]
    latin = {"latin1.txt": LATIN1}
    out += [Case("latin-1 text, --encoding latin-1", s + ["{d}/latin1.txt", "--encoding", "latin-1"], latin, True),
            Case("latin-1 text, --encoding latin-1", b + ["{d}/latin1.txt", "--encoding", "latin-1"], latin, True)]
    long = {"long.txt": "word " * 200_000 + "\nshort document here\n"}
    many = {"many.txt": "".join(f"document {i} with a few words in it\n" for i in range(100_000))}
    out += [Case("1 MB single line", s + ["{d}/long.txt"], long, True),
            Case("1 MB single line", b + ["{d}/long.txt"], long, True),
            Case("100k-line input", b + ["{d}/many.txt"], many, True)]
    bad = {"bad.jsonl": BAD_JSONL}
    nofield = {"nofield.jsonl": '{"document": "a b c"}\n{"text": "x y z"}\n'}
    out += [Case("malformed json line", s + ["{d}/bad.jsonl"], bad, True),
            Case("malformed json line, --skip-bad-records", s + ["{d}/bad.jsonl", "--skip-bad-records"], bad, True),
            Case("malformed json line", b + ["{d}/bad.jsonl", "--field", "document"], bad, True),
            Case("malformed json line", e + ["{d}/bad.jsonl", "--refs", "{d}/bad.jsonl", "--field", "document"],
                 bad, True),
            Case("malformed json line", t + ["data.train_files=[{d}/bad.jsonl]"], bad),
            Case("jsonl record without the field", s + ["{d}/nofield.jsonl"], nofield, True),
            Case("jsonl record without the field", b + ["{d}/nofield.jsonl", "--field", "document"], nofield, True),
            Case("jsonl record without the field", t + ["data.train_files=[{d}/nofield.jsonl]"], nofield)]
    docs = {"docs.txt": DOCS}
    model_dir = ["summarize", "--quiet", "--input", "{d}/docs.txt", "--output", "{keep}", "--model"]
    out += [Case("wrong --model directory", model_dir + ["{d}/no_such_run"], docs, True),
            Case("wrong --model directory", model_dir + ["{d}"], docs, True)]
    bad_key = {"bad.yaml": "model:\n  d_modle: 32\n"}
    bad_type = {"bad.yaml": "train:\n  steps: many\n"}
    tr = ["train", "--output-dir", "{d}/run", "--quiet", "--config"]
    out += [Case("config with an unknown key", tr + ["{d}/bad.yaml"], bad_key),
            Case("config with a wrong type", tr + ["{d}/bad.yaml"], bad_type),
            Case("--set with an unknown key", t + ["train.stepz=3"], {}),
            Case("--set with a wrong type", t + ["train.steps=ten"], {})]
    for item in ["summary.min_words=-1", "summary.max_words=-3", "summary.default_words=-2",
                 "model.max_summary_tokens=0"]:
        out.append(Case(f"zero or negative length target ({item})", t + [item], {}))
    for flags in (["--words", "0"], ["--words", "-2"], ["--ratio", "0"]):
        out.append(Case(f"zero or negative length target ({' '.join(flags)})", s + ["{d}/docs.txt", *flags],
                        docs, True))
    for flags in (["--span-bonus", "-1"], ["--span-bonus", "nan"]):
        out.append(Case(f"absurd decoding setting ({' '.join(flags)})", s + ["{d}/docs.txt", *flags], docs, True))
    out.append(Case("zero or negative length target (--lead 0)",
                    ["baseline", "--lead", "0", "--output", "{keep}", "--input", "{d}/docs.txt"], docs, True))
    unwritable = "{d}/docs.txt/out.txt"  # its directory is a file: unwritable even for root
    out += [Case("unwritable output path", ["summarize", "--model", "{model}", "--quiet", "--input", "{d}/docs.txt",
                                            "--output", unwritable], docs),
            Case("unwritable output path", ["baseline", "--lead", "2", "--input", "{d}/docs.txt", "--output",
                                            unwritable], docs),
            Case("unwritable output path", ["evaluate", "--hyps", "{d}/docs.txt", "--refs", "{d}/docs.txt",
                                            "--output", unwritable], docs),
            Case("unwritable output path", ["train", "--config", str(REPO / "summae" / "configs" / "tiny.yaml"),
                                            "--output-dir", "{d}/docs.txt", "--quiet"], docs)]
    zh = {"zh.txt": ZH}
    out.append(Case("non-Latin text (rouge-score drops it)", e + ["{d}/zh.txt", "--refs", "{d}/zh.txt"], zh, True))
    return out


def environment() -> dict:
    return {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
            "TOKENIZERS_PARALLELISM": "false"}


def shown(stderr: str) -> str:
    """The last line a terminal would show (progress bars rewrite their line with \\r)."""
    lines = [line.rsplit("\r", 1)[-1].strip() for line in stderr.split("\n")]
    lines = [line for line in lines if line]
    return lines[-1] if lines else ""


def short(message: str, d: Path, model: str) -> str:
    """A stderr line with the temporary paths shortened and a .partial file's random part as XXXXXXXX."""
    message = message.replace(str(d) + "/", "").replace(str(d), "DIR").replace(model, "MODEL")
    message = message.replace(str(REPO) + "/", "")  # the checkout: paths read as from the repository root
    return re.sub(r"\.[0-9a-f]{8}\.partial\b", ".XXXXXXXX.partial", message)


def partials(path: Path) -> list[Path]:
    """The temporary files runs writing `path` made (OutputSink: PATH.<8 hex>.partial), kept by failed runs."""
    return sorted(path.parent.glob(f"{path.name}.*.partial"))


def count_lines(path: Path) -> int:
    return len(path.read_text(encoding="utf-8", errors="replace").splitlines())


def _lines(n: int) -> str:
    return f"{n} line{'s' if n != 1 else ''}"


def kept_report(keep: Path, stderr: str) -> str:
    """What a failed run left beside `keep`: its .partial's lines, checked against the error line, which must
    name that file and its line count ("output so far (N lines) kept in PATH"); "" if it left nothing."""
    files = partials(keep)
    named = re.search(r"output so far \((\d+) lines?\) kept in (.+?)(?:; |$)", shown(stderr))
    if not files:
        return "; the message names a .partial that does not exist" if named else ""
    if len(files) > 1:
        return f"; {len(files)} .partial files left ({', '.join(str(count_lines(f)) for f in files)} lines)"
    lines = count_lines(files[0])
    if named is None:
        return f"; {_lines(lines)} in a .partial the message does not name"
    if Path(named.group(2)) != files[0]:
        return f"; {_lines(lines)} in a .partial, but the message names another file"
    if int(named.group(1)) != lines:
        return f"; {_lines(lines)} kept in the .partial the message names (it says {named.group(1)})"
    return f"; {_lines(lines)} kept in the .partial the message names"


def run_case(case: Case, work: Path, model: str, number: int) -> dict:
    d = work / f"case{number}"
    d.mkdir()
    for name, content in case.files.items():
        (d / name).write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    keep = d / "keep.txt"
    if case.keep:
        keep.write_text(KEEP, encoding="utf-8")
    argv = [a.format(d=d, model=model, keep=keep) for a in case.argv]
    begin = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "summae.cli", *argv], cwd=REPO, env=environment(),
                          capture_output=True, text=True, timeout=1800)
    message = short(shown(proc.stderr), d, model)
    if not case.keep:
        intact = "n/a"
    elif proc.returncode == 0:
        intact = "replaced (success)"
        if partials(keep):  # a run that succeeds renames its .partial onto FILE: none may be left
            intact += f"; {len(partials(keep))} .partial left"
    else:
        intact = ("yes" if keep.read_text(encoding="utf-8") == KEEP else "NO") + kept_report(keep, proc.stderr)
    return {"case": case.name, "command": " ".join(["summae", argv[0]] + _flags(argv)), "exit": proc.returncode,
            "message": message, "intact": intact, "traceback": "Traceback" in proc.stderr,
            "seconds": time.perf_counter() - begin}


def _flags(argv: list[str]) -> list[str]:
    """The options that make the case (not the paths): --encoding latin-1, --skip-bad-records, --words 0..."""
    shown_flags = {"--encoding", "--skip-bad-records", "--words", "--ratio", "--lead", "--field", "--span-bonus"}
    out = []
    for i, arg in enumerate(argv):
        if arg in shown_flags:
            out.append(arg if arg == "--skip-bad-records" else f"{arg} {argv[i + 1]}")
    return out


def interrupted(work: Path, model: str, sig: int) -> dict:
    """summarize killed mid-run (SIGINT = Ctrl-C, or SIGKILL) once its FILE.<random>.partial has lines, then
    re-run: the re-run replaces FILE and leaves no .partial of its own; the first run's stays where it was."""
    d = work / f"interrupt{int(sig)}"
    d.mkdir()
    docs = d / "docs.txt"
    docs.write_text(DOCS * 500, encoding="utf-8")
    keep = d / "keep.txt"
    keep.write_text(KEEP, encoding="utf-8")
    argv = [sys.executable, "-m", "summae.cli", "summarize", "--model", model, "--input", str(docs), "--output",
            str(keep), "--quiet", "--batch-size", "8", "--device", "cpu"]
    proc = subprocess.Popen(argv, cwd=REPO, env=environment(), stderr=subprocess.PIPE, text=True)
    while not (partials(keep) and partials(keep)[0].stat().st_size) and proc.poll() is None:
        time.sleep(0.2)
    proc.send_signal(sig)
    try:
        _, err = proc.communicate(timeout=900)
    except subprocess.TimeoutExpired:  # recorded as a finding, not a crash of the report
        proc.kill()
        _, err = proc.communicate()
        err += "\n(no exit within 900 s of the signal; killed)"
    first = partials(keep)  # the killed run's own file(s): one expected
    if sig == signal.SIGINT:  # the error line names the file and its line count
        intact = ("yes" if keep.read_text(encoding="utf-8") == KEEP else "NO") + kept_report(keep, err)
    else:  # killed outright: no message; the file is there all the same
        lines = ", ".join(str(count_lines(f)) for f in first) or "no"
        intact = ("yes" if keep.read_text(encoding="utf-8") == KEEP else "NO") + \
            f"; {lines} lines in its .partial" + (f" ({len(first)} files)" if len(first) > 1 else "")
    rerun = subprocess.run(argv, cwd=REPO, env=environment(), capture_output=True, text=True, timeout=3600)
    done = count_lines(keep)
    left = [f for f in partials(keep) if f not in first]  # the re-run renames its own: none may be left
    own = f"{len(left)} .partial of its own left" if left else "no .partial of its own left"
    if first:  # no run removes another's .partial
        own += ", the first run's kept" if all(f.exists() for f in first) else ", the first run's REMOVED"
    name = "SIGINT (Ctrl-C)" if sig == signal.SIGINT else "SIGKILL"
    return {"case": f"interrupted summarize ({name})", "command": "summae summarize", "exit": proc.returncode,
            "message": short(shown(err), d, model) or "(killed: no message)",
            "intact": f"{intact}; re-run exit {rerun.returncode}, {done} lines, {own}",
            "traceback": "Traceback" in err, "seconds": 0.0}


def train_model(work: Path) -> str:
    run = work / "tiny_run"
    argv = [sys.executable, "-m", "summae.cli", "train", "--config", str(REPO / "summae" / "configs" / "tiny.yaml"),
            "--output-dir", str(run), "--quiet", "--set", "tokenizer.train_sentences=400"]
    proc = subprocess.run(argv, cwd=REPO, env=environment(), capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"training the tiny model failed:\n{proc.stderr[-2000:]}")
    return str(run)


def markdown(rows: list[dict], seconds: float) -> str:
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                            text=True).stdout.strip()
    head = ["# Bad input: what each command does", "",
            f"Generated by `python scripts/robustness_report.py` (commit {commit}, "
            f"{datetime.date.today().isoformat()}, {seconds:.0f} s wall on a shared machine); do not edit by hand. "
            "The model is a tiny run of `summae/configs/tiny.yaml`. Each row ran the real "
            "CLI (`python -m summae.cli`) in a subprocess on a freshly made bad input. *message* is the last "
            "line stderr shows (temporary paths shortened, and the random part of a `.partial` file's name "
            "written XXXXXXXX); *output intact* says whether an output file that existed before the run still "
            "holds its old content (n/a: none existed), and what a failed run kept aside in its `.partial` file.",
            "",
            "| case | command | exit | message | output intact |", "|---|---|---|---|---|"]
    body = []
    for r in rows:
        message = r["message"].replace("|", "\\|") + (" **(traceback)**" if r["traceback"] else "")
        body.append(f"| {r['case']} | `{r['command']}` | {r['exit']} | {message} | {r['intact']} |")
    return "\n".join(head + body) + "\n" + NOTES


NOTES = """
## Rules behind the table

- Every error is one line, `summae COMMAND: error: ...`, with exit status 2 (130 for Ctrl-C); no traceback.
- Input that is not text names the file, the line and the byte offset: a NUL byte means binary; another
  invalid byte suggests `--encoding latin-1` (summarize, evaluate, baseline), or converting the file with
  `iconv` for `train`. `--encoding` takes any encoding that writes a newline as one byte.
- Blank lines are documents: `summarize` and `baseline` write an empty line for each, so outputs stay
  line-aligned with inputs; `evaluate` keeps them (they score 0) and warns with their count.
- Documents longer than `model.max_source_tokens` are summarized from their beginning; `summarize` says how
  many were cut (even with `--quiet`).
- A bad jsonl line stops `summarize` with its line number and reason; `--skip-bad-records` (alias
  `--skip-bad`) skips such lines instead and reports the count. `train` skips records whose text field is
  missing, null or blank and logs the count on stderr, but stops at malformed JSON.
- Outputs of `summarize`, `baseline` and `evaluate --output` are written, as they are made, to a file of the
  run's own, `FILE.<8 hex digits>.partial` beside `FILE`, renamed onto `FILE` (atomically) only on success, so
  `FILE` is never half-written. Two runs writing the same `FILE` at once never mix: each has its own `.partial`,
  and the last to finish wins. A run that fails or is interrupted keeps its finished lines in its `.partial` and
  names it on its error line (`...; output so far (N lines) kept in FILE.1a2b3c4d.partial`; a run that wrote
  nothing leaves no file); one killed outright leaves it too, unnamed. No run removes another's `.partial`
  (it may belong to a run still going), so delete kept ones by hand. The output path is checked before any
  work starts.
- `summae summarize` reads its input one line at a time: a 100k-line input runs in constant memory.
- `evaluate` warns on stderr (exit 0) when most characters are outside `[a-z0-9]`: rouge-score drops them, so
  the scores say nothing.
"""


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="a trained run directory (default: train summae/configs/tiny.yaml once)")
    parser.add_argument("--output", default=str(REPO / "docs" / "robustness.md"), help="the markdown file")
    parser.add_argument("--jobs", type=int, default=3, help="cases run at the same time (default 3)")
    parser.add_argument("--no-interrupt", action="store_true", help="skip the (slow) interrupted-run cases")
    args = parser.parse_args(argv)
    begin = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="summae-robustness-") as tmp:
        work = Path(tmp)
        model = str(Path(args.model).resolve()) if args.model else train_model(work)
        with ThreadPoolExecutor(args.jobs) as pool:  # the cases are independent; most time is imports
            rows = list(pool.map(lambda item: run_case(item[1], work, model, item[0]), enumerate(cases())))
        for row in rows:
            print(f"{row['exit']:>3} {row['seconds']:5.1f}s {row['case']}: {row['message'][:90]}", file=sys.stderr)
        if not args.no_interrupt:
            for sig in (signal.SIGINT, signal.SIGKILL):
                rows.append(interrupted(work, model, sig))
                print(f"{rows[-1]['exit']:>3} {rows[-1]['case']}: {rows[-1]['intact']}", file=sys.stderr)
    text = markdown(rows, time.perf_counter() - begin)
    faults = REPO / "docs" / "robustness-faults.md"  # hand-kept: each row names the test that does the fault
    if faults.exists():
        text += "\n" + faults.read_text(encoding="utf-8")
    Path(args.output).write_text(text, encoding="utf-8")
    print(f"wrote {args.output} ({len(rows)} cases)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
