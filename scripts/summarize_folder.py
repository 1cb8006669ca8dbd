"""Summarize every text file of a folder as ONE document each: IN/<name>.txt -> OUT/<name>.summary.txt.

    python scripts/summarize_folder.py --model runs/demo --input-dir notes/ --output-dir summaries/ \
        [--words N | --ratio R] [--glob "*.txt"] [--beams K] [--device auto|cpu|cuda|cuda:N]

A thin wrapper over `summae.summarize.Summarizer`: the whole file content (whitespace collapsed to single
spaces) is one document. Files that are empty or not UTF-8 are skipped and counted; files named
*.summary.txt (this script's output) are never read. Like `summae`, errors print one line and exit with
status 2. The model reads only the first model.max_source_tokens tokens of each document (its config.yaml).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SUFFIX = ".summary.txt"

try:
    import summae  # noqa: F401
except ImportError:
    sys.path.insert(0, str(ROOT))  # run from a checkout without `pip install -e .`
from summae.cli import _Parser, positive_int, ratio  # noqa: E402 - the same argument handling as `summae summarize`


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(description=__doc__.split("\n")[0])  # usage errors: one line, exit 2
    add = parser.add_argument
    add("--model", required=True, help="a run directory (best/, else last/) or a checkpoint directory")
    add("--input-dir", required=True, help="folder of text files, one document per file")
    add("--output-dir", required=True, help="where <name>.summary.txt files go (created if missing)")
    length = parser.add_mutually_exclusive_group()
    length.add_argument("--words", type=positive_int, help="at most N words per summary, aiming at N")
    length.add_argument("--ratio", type=ratio, help="summary words / document words, (0, 1]")
    add("--glob", default="*.txt",
        help='files of --input-dir to read (default "*.txt"; "**/*.txt" recurses, keeping sub-folders)')
    add("--beams", type=positive_int, default=1, help="beam search width; 1 = greedy (default)")
    add("--device", default="auto", help="auto (GPU if present), cpu, cuda or cuda:N")
    return parser


def find_inputs(input_dir: Path, pattern: str) -> list[Path]:
    """Files matching the glob, sorted, minus *.summary.txt (this script's output, e.g. when OUT is IN)."""
    from summae.errors import SummaeError

    if not input_dir.is_dir():
        raise SummaeError(f"--input-dir {input_dir} is not a directory")
    files = [p for p in sorted(input_dir.glob(pattern)) if p.is_file() and not p.name.endswith(SUFFIX)]
    if not files:
        raise SummaeError(f"no file in {input_dir} matches --glob {pattern!r}")
    return files


def read_document(path: Path) -> tuple[str | None, str | None]:
    """(the file as one document, whitespace collapsed, None) or (None, why it is skipped)."""
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        return None, "not UTF-8"
    text = " ".join(text.removeprefix("\ufeff").split())  # a BOM is not a word
    return (text, None) if text else (None, "empty")


def output_path(path: Path, input_dir: Path, output_dir: Path) -> Path:
    """IN/sub/a.txt -> OUT/sub/a.summary.txt (the last suffix is replaced)."""
    relative = path.relative_to(input_dir)
    return output_dir / relative.parent / (relative.stem + SUFFIX)


def write_atomic(path: Path, text: str) -> None:
    # a reader never sees half a summary; an interrupted run leaves earlier files untouched
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600 files; give the summary a normal file's mode
    os.replace(tmp, path)


def run(args) -> int:
    from summae.errors import SummaeError
    from summae.summarize import Summarizer

    input_dir, output_dir = Path(args.input_dir), Path(args.output_dir)
    files = find_inputs(input_dir, args.glob)
    docs, targets, skips = [], [], {"empty": 0, "not UTF-8": 0}
    for path in files:
        text, why = read_document(path)
        if why is not None:
            skips[why] += 1
            continue
        target = output_path(path, input_dir, output_dir)
        if target in targets:
            raise SummaeError(f"two input files would both write {target}; narrow --glob")
        docs.append(text)
        targets.append(target)
    skipped = f"skipped {skips['empty']} empty and {skips['not UTF-8']} non-UTF-8 file(s)"
    if not docs:
        raise SummaeError(f"nothing to summarize in {input_dir}: {skipped}")

    summarizer = Summarizer.from_pretrained(args.model, device=args.device)
    summaries = summarizer(docs, words=args.words, ratio=args.ratio, beams=args.beams)
    for target, summary in zip(targets, summaries):
        write_atomic(target, summary + "\n")
    print(f"summarized {len(docs)} file(s) into {output_dir}; {skipped}", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from summae.cli import _quiet_libraries
    from summae.errors import SummaeError

    _quiet_libraries()
    try:
        return run(args)
    except SummaeError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except OSError as err:
        print(f"error: {err.strerror or err}: {err.filename or ''}".rstrip(": "), file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
