"""Summarize every text file of a folder as ONE document each: IN/<name>.txt -> OUT/<name>.summary.txt.

    python scripts/summarize_folder.py --model runs/demo --input-dir notes/ --output-dir summaries/ \
        [--words N | --ratio R] [--glob "*.txt"] [--beams K] [--device auto|cpu|cuda|cuda:N]

A thin wrapper over `summae summarize --input DIR` (summae.io.FolderReader and summae.summarize): the same
files are read the same way, each whole (whitespace collapsed to single spaces) as one document, up to the
model's model.max_source_tokens; how many were cut is reported. Only the output differs: a file per input
file here, one JSON line per file there. Files that are empty, not UTF-8 (binary files too) or unreadable are
skipped and counted; hidden files and *.summary.txt files (this script's output) are never read. Like
`summae`, errors print one line and exit with status 2.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

import importlib.util  # noqa: E402

if importlib.util.find_spec("summae") is None:
    sys.path.insert(0, str(ROOT))  # run from a checkout without `pip install -e .`
from summae.cli import Parser, positive_int, ratio  # noqa: E402 - the same argument handling as `summae summarize`
from summae.io import FOLDER_GLOB, SUMMARY_SUFFIX  # noqa: E402


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(description=__doc__.split("\n")[0])  # usage errors: one line, exit 2
    add = parser.add_argument
    add("--model", required=True, help="a run directory (best/, else last/) or a checkpoint directory")
    add("--input-dir", required=True, help="folder of text files, one document per file")
    add("--output-dir", required=True, help="where <name>.summary.txt files go (created if missing)")
    length = parser.add_mutually_exclusive_group()
    length.add_argument("--words", type=positive_int, help="at most N words per summary, aiming at N")
    length.add_argument("--ratio", type=ratio, help="summary words / document words, (0, 1]")
    add("--glob", default=FOLDER_GLOB,
        help=f'files of --input-dir to read (default "{FOLDER_GLOB}"; "**/*.txt" recurses, keeping sub-folders)')
    add("--beams", type=positive_int, default=1, help="beam search width; 1 = greedy (default)")
    add("--device", default="auto", help="auto (GPU if present), cpu, cuda or cuda:N")
    return parser


def output_path(name: str, output_dir: Path) -> Path:
    """sub/a.txt -> OUT/sub/a.summary.txt (the last suffix is replaced)."""
    relative = Path(name)
    return output_dir / relative.parent / (relative.stem + SUMMARY_SUFFIX)


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
    from summae.io import FolderReader
    from summae.summarize import Summarizer, folder_summaries

    output_dir = Path(args.output_dir)
    reader = FolderReader(args.input_dir, pattern=args.glob, skip_bad=True)  # listed before the model loads
    targets: dict[Path, str] = {}
    for name, _ in reader.files:
        target = output_path(name, output_dir)
        if target in targets:  # a.txt and a.md under --glob "*"
            raise SummaeError(f"{targets[target]} and {name} would both write {target}; narrow --glob")
        targets[target] = name

    summarizer = Summarizer.from_pretrained(args.model, device=args.device)
    done = 0
    for name, summary in folder_summaries(summarizer, reader, words=args.words, ratio=args.ratio, beams=args.beams):
        write_atomic(output_path(name, output_dir), summary + "\n")
        done += 1
    notes = [reader.note()] if reader.skipped else []
    if summarizer.truncated:
        notes.append(f"{summarizer.truncated} longer than model.max_source_tokens "
                     f"({summarizer.cfg.model.max_source_tokens} tokens) were cut to it")
    print(f"summarized {done} file(s) into {output_dir}" + "".join(f"; {n}" for n in notes), file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from summae.cli import quiet_libraries
    from summae.errors import SummaeError

    quiet_libraries()
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
