"""Reading the user's text one record at a time, and what every reader shares: paths, formats, line checks.

`iter_records` reads .txt / .jsonl / stdin line by line for `summarize`; `FolderReader` reads a folder's files,
each whole as one document (`summarize --input DIR`); `read_texts` and `read_lines` read small files whole. Every
problem with the user's files becomes one SummaeError line naming the file (and line). Training texts go through
HF datasets in summae.loading (`load_texts`), with the line checks here. Writing is summae.output's.
"""

from __future__ import annotations

import bz2
import codecs
import contextlib
import glob
import gzip
import lzma
import os
import random
import sys
from collections.abc import Iterator
from pathlib import Path

from summae.errors import SummaeError
from summae.jsonline import parse_record

DATA_DIR = Path(__file__).parent / "data"  # "bundled:debian/train.jsonl" is DATA_DIR / "debian/train.jsonl"
BUNDLED_DIR = DATA_DIR / "debian"  # the default corpus (scripts/prepare_debian.py writes it)
BUNDLED_PREFIX = "bundled:"
_OPENERS = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}  # compressed text, opened in binary mode
READ_ERRORS = (OSError, EOFError, lzma.LZMAError)  # what a truncated or corrupt (compressed) file raises
_RECORD_FORMATS = {".txt": "txt", ".jsonl": "jsonl", ".json": "jsonl"}  # RecordReader's, by extension


# ---------------------------------------------------------------- paths and formats

def _local(path) -> str:
    """A user path on disk: "bundled:..." -> inside the package, "~" expanded."""
    path = str(path)
    if path.startswith(BUNDLED_PREFIX):
        return str(DATA_DIR / path.removeprefix(BUNDLED_PREFIX))
    return os.path.expanduser(path)


def resolve_files(patterns: str | list[str]) -> list[str]:
    """Expand globs (each sorted; patterns in order; duplicates dropped); every pattern must match a file."""
    if isinstance(patterns, (str, os.PathLike)):
        patterns = [patterns]
    if not patterns:
        raise SummaeError("no input files given")
    files = []
    for pattern in map(str, patterns):
        local = _local(pattern)
        if any(c in local for c in "*?["):
            matches = sorted(m for m in glob.glob(local, recursive=True) if os.path.isfile(m))
        elif os.path.isdir(local):
            raise SummaeError(f"{pattern} is a directory; give files or a glob such as {pattern}/*.jsonl")
        else:
            matches = [local] if os.path.isfile(local) else []
        if not matches:
            raise SummaeError(f"no file matches {pattern}")
        files += matches
    return list(dict.fromkeys(files))


def split_ext(path: str) -> tuple[str, str]:
    """"a/b.jsonl.gz" -> (".jsonl", ".gz"); no compression -> (".jsonl", "")."""
    suffixes = [s.lower() for s in Path(path).suffixes]
    compression = suffixes.pop() if suffixes and suffixes[-1] in _OPENERS else ""
    return (suffixes[-1] if suffixes else ""), compression


# ---------------------------------------------------------------- line-level checks

def _open_binary(path: str):
    return _OPENERS.get(split_ext(path)[1], open)(path, "rb")


def raw_lines(path: str, limit: int | None = None):
    """(lineno, bytes without b"\\n", complete, byte offset of the line) of the whole file, or only of its
    first `limit` bytes."""
    offset = 0
    with _open_binary(path) as f:
        if limit is None:
            for lineno, raw in enumerate(f, 1):
                yield lineno, raw.removesuffix(b"\n"), True, offset
                offset += len(raw)
            return
        head = f.read(limit)
        truncated = bool(f.read(1))
    pieces = head.split(b"\n")
    for lineno, raw in enumerate(pieces, 1):
        yield lineno, raw, not (truncated and lineno == len(pieces)), offset  # the last piece may be cut mid-line
        offset += len(raw) + 1


ENCODING_HINT = "if it is Latin-1, pass --encoding latin-1"  # summarize / evaluate / baseline have --encoding
CONVERT_HINT = "convert it to UTF-8 first, e.g. iconv -f latin1 -t utf-8"  # train reads UTF-8 only


def _bad_bytes(name: str, lineno: int, raw: bytes, offset: int | None, encoding: str, hint: str) -> SummaeError:
    """The one-line error for a line that is not text: where the first bad byte is, and what to do."""
    at = "" if offset is None else " at byte offset {}"  # offsets count from the start of the (decompressed) file
    nul = raw.find(b"\x00")
    if nul >= 0:  # NUL never occurs in text: a binary file, or UTF-16
        where = at.format(offset + nul) if at else ""
        return SummaeError(f"{name} is not UTF-8 text (line {lineno}): it looks binary (a NUL byte{where})")
    try:
        raw.decode(encoding)
        bad, byte = 0, ""
    except UnicodeDecodeError as e:
        bad, byte = e.start, f" 0x{raw[e.start]:02x}"
    where = at.format(offset + bad) if at else ""
    label = "UTF-8" if codecs.lookup(encoding).name == "utf-8" else encoding
    return SummaeError(f"{name} is not {label} text (line {lineno}): invalid byte{byte}{where}; {hint}")


def decode_line(name: str, lineno: int, raw: bytes | str, complete: bool = True, *, offset: int | None = None,
                encoding: str = "utf-8", hint: str = ENCODING_HINT) -> str:
    """Bytes in `encoding` (UTF-8 by default) -> str; SummaeError naming the line and byte offset for
    undecodable bytes or NUL bytes (binary files, UTF-16)."""
    try:  # incremental decoder: a cut-off last piece may end inside a multi-byte character
        text = raw if isinstance(raw, str) else codecs.getincrementaldecoder(encoding)().decode(raw, complete)
    except UnicodeDecodeError:
        text = None
    if text is None or "\x00" in text:
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogatepass")
        raise _bad_bytes(name, lineno, raw, offset, encoding, hint)
    return text.removeprefix("\ufeff") if lineno == 1 else text  # Windows editors start files with a BOM


def check_encoding(encoding: str) -> str:
    """A codec name Python knows, else a one-line SummaeError (for --encoding)."""
    try:
        name = codecs.lookup(encoding).name
        ascii_newline = "\n".encode(name) == b"\n"
    except (LookupError, TypeError, ValueError, UnicodeError):
        raise SummaeError(f"--encoding: unknown encoding {encoding!r} (e.g. utf-8, latin-1, cp1252)") from None
    if not ascii_newline:  # lines are split on the byte b"\n": UTF-16/32 would need another reader
        raise SummaeError(f"--encoding {encoding}: only encodings that write a newline as one byte are "
                          f"supported (utf-8, latin-1, cp1252, ...); convert the file to UTF-8")
    return name


# ---------------------------------------------------------------- one record at a time

class RecordReader:
    """Iterate over (record | None, text), one input document at a time, never holding the whole file.

    txt: every line is a document, blank ones included (outputs stay line-aligned); record is None. Lines
    end at "\\n" only (a trailing "\\r" is dropped). jsonl: every non-blank line must be a JSON object whose
    `field` is a string. With skip_bad, bad lines are skipped and counted in `.skipped` instead of raising.
    `encoding` is the files' text encoding (UTF-8 unless the user says otherwise with --encoding).
    """

    def __init__(self, path, *, field: str = "document", skip_bad: bool = False, fmt: str | None = None,
                 encoding: str = "utf-8"):
        self.path = "-" if str(path) == "-" else _local(path)
        self.name = "<stdin>" if self.path == "-" else str(path)
        self.field, self.skip_bad, self.skipped = field, skip_bad, 0
        self.encoding = check_encoding(encoding)
        by_name = "txt" if self.path == "-" else _RECORD_FORMATS.get(split_ext(self.path)[0])
        self.fmt = fmt or by_name
        if self.fmt not in ("txt", "jsonl"):
            raise SummaeError(f"{self.name}: input format must be 'txt' or 'jsonl' (a .txt or .jsonl file)")
        if self.path != "-" and not os.path.isfile(self.path):
            raise SummaeError(f"no file {self.name}")

    def _open(self):
        if self.path == "-":  # bytes when possible, so bad input is reported like a file's
            return contextlib.nullcontext(getattr(sys.stdin, "buffer", sys.stdin))
        return _open_binary(self.path)

    def _parse(self, lineno: int, raw: bytes | str, offset: int) -> tuple[dict | None, str] | None:
        text = decode_line(self.name, lineno, raw, offset=offset, encoding=self.encoding)
        text = text.removesuffix("\n").removesuffix("\r")
        if self.fmt == "txt":
            return None, text
        if not text.strip():
            return None  # blank lines between records are not records
        try:
            record = parse_record(text, self.field, require_field=True)
        except ValueError as e:
            raise SummaeError(f"{self.name} line {lineno}: {e}") from None
        return record, record[self.field]

    def __iter__(self):
        offset = 0  # bytes before the current line, for the error message
        try:
            with self._open() as f:
                for lineno, raw in enumerate(f, 1):
                    try:
                        item = self._parse(lineno, raw, offset)
                    except SummaeError:
                        if not self.skip_bad:
                            raise
                        self.skipped += 1
                        continue
                    finally:
                        offset += len(raw)
                    if item is not None:
                        yield item
        except READ_ERRORS as e:
            raise SummaeError(f"cannot read {self.name}: {e}") from e


def iter_records(path: str, *, field: str = "document", skip_bad: bool = False, fmt: str | None = None,
                 encoding: str = "utf-8") -> RecordReader:
    """(record | None, text) pairs from a .txt / .jsonl file or "-" (stdin); fmt "txt" | "jsonl" | None
    (by extension; stdin defaults to txt). Keep the reader to read `.skipped` afterwards."""
    return RecordReader(path, field=field, skip_bad=skip_bad, fmt=fmt, encoding=encoding)


def read_lines(path, *, encoding: str = "utf-8") -> list[str]:
    """All lines of a small text file, newlines stripped (e.g. the discriminator's headlines)."""
    return [text for _, text in RecordReader(path, fmt="txt", encoding=encoding)]


# ---------------------------------------------------------------- folders: one document per file

FOLDER_GLOB = "*.txt"  # the files of a folder read by default; "**/*.txt" recurses
SUMMARY_SUFFIX = ".summary.txt"  # scripts/summarize_folder.py's outputs: never read back as documents
FILE_BYTES = 1 << 20  # bytes read of each file: a 1,024-token document is ~6 kB, the model never reads further


def folder_files(folder, pattern: str = FOLDER_GLOB) -> list[tuple[str, Path]]:
    """(name relative to the folder, path) of the files matching `pattern`, sorted by name. Hidden files and
    folders (".git", ".DS_Store") and *.summary.txt files are left out."""
    root = Path(_local(folder))
    if not root.is_dir():
        raise SummaeError(f"{folder} is not a directory")
    try:
        paths = list(root.glob(pattern))
    except (ValueError, NotImplementedError):  # "" or an absolute pattern
        raise SummaeError(f"--glob {pattern!r}: give a pattern relative to the folder, e.g. *.txt or **/*.md") from None
    found = {}
    for path in paths:
        name = path.relative_to(root).as_posix()
        if path.is_file() and not name.endswith(SUMMARY_SUFFIX) and not any(p.startswith(".") for p in name.split("/")):
            found[name] = path
    if not found:
        raise SummaeError(f"no file in {folder} matches --glob {pattern!r}")
    return sorted(found.items())


class FolderReader:
    """Iterate over ({"file": name}, text), one file of a folder per document, in name order.

    Each file is read whole (its first FILE_BYTES; `.gz`, `.bz2`, `.xz` decompressed), lines joined and
    whitespace collapsed to single spaces: one document, as one line of a .txt input would be. Empty files
    are skipped and counted. A file that is not text in `encoding` (binary, another encoding) or cannot be
    read stops with a one-line error naming it; with skip_bad it is skipped and counted instead, as bad
    lines of a file are. `.skipped` counts all skips, `.reasons` by reason; `note()` says them in words.
    """

    def __init__(self, folder, *, pattern: str = FOLDER_GLOB, skip_bad: bool = False, encoding: str = "utf-8"):
        self.folder, self.skip_bad = str(folder), skip_bad
        self.encoding = check_encoding(encoding)
        self.files = folder_files(folder, pattern)  # listed now: a bad folder or glob fails before the model loads
        self.reasons = {"empty": 0, f"not {self.encoding} text": 0, "unreadable": 0}

    @property
    def skipped(self) -> int:
        return sum(self.reasons.values())

    def note(self) -> str:
        """"skipped 3 files (1 empty, 2 not utf-8 text)", or "" when none was skipped."""
        why = ", ".join(f"{n} {reason}" for reason, n in self.reasons.items() if n)
        return f"skipped {self.skipped} file{'s' if self.skipped != 1 else ''} ({why})" if why else ""

    def _read(self, path: Path) -> str:
        pieces = list(raw_lines(str(path), FILE_BYTES))
        for lineno, raw, _, offset in pieces:  # a NUL anywhere first: a PNG fails at its first byte, 0x89, but
            if b"\x00" in raw:                 # "binary" says more than "invalid byte 0x89, is it Latin-1?"
                raise _bad_bytes(str(path), lineno, raw, offset, self.encoding, ENCODING_HINT)
        lines = [decode_line(str(path), lineno, raw, complete, offset=offset, encoding=self.encoding)
                 for lineno, raw, complete, offset in pieces]
        return " ".join(" ".join(lines).split())

    def __iter__(self):
        yielded = 0
        for name, path in self.files:
            try:
                text = self._read(path)
            except (SummaeError, *READ_ERRORS) as err:
                if not self.skip_bad:
                    what = str(err) if isinstance(err, SummaeError) else f"cannot read {path}: {_os_reason(err)}"
                    raise SummaeError(f"{what}; --skip-bad skips such files") from None
                self.reasons[f"not {self.encoding} text" if isinstance(err, SummaeError) else "unreadable"] += 1
                continue
            if not text:
                self.reasons["empty"] += 1
                continue
            yielded += 1
            yield {"file": name}, text
        if not yielded:
            raise SummaeError(f"nothing to summarize in {self.folder}: {self.note()}")


def _os_reason(err: BaseException) -> str:
    return (getattr(err, "strerror", None) or str(err)).lower()


SUBSET_SEED = 1234  # fixed: the labeled subset must not change with train.seed


def load_pairs(paths: list[str], n: int, *, doc_field: str, summary_field: str) -> tuple[list[str], list[str]]:
    """The first n pairs of a fixed permutation of all (document, summary) records in `paths` (jsonl)."""

    pairs = []
    for path in resolve_files(paths):
        for record, document in iter_records(path, field=doc_field, fmt="jsonl"):
            summary = record.get(summary_field)
            if not isinstance(summary, str):
                raise SummaeError(f"{path}: a labeled record has no string field {summary_field!r}")
            if document.strip() and summary.strip():
                pairs.append((document, summary))
    if len(pairs) < n:
        raise SummaeError(f"data.labeled_pairs is {n}, but {', '.join(paths)} holds only {len(pairs)} pairs")
    random.Random(SUBSET_SEED).shuffle(pairs)
    chosen = pairs[:n]
    return [d for d, _ in chosen], [s for _, s in chosen]


def _open_input(path: str):
    """(display name, binary file) for a path, or for stdin given "-"; one-line errors for the usual misses."""
    if path == "-":
        return "<stdin>", sys.stdin.buffer
    try:
        return path, open(path, "rb")
    except FileNotFoundError:
        raise SummaeError(f"no such file: {path}") from None
    except IsADirectoryError:
        raise SummaeError(f"{path} is a directory, expected a text file") from None
    except PermissionError:
        raise SummaeError(f"{path} is not readable (permission denied)") from None


def _jsonl_value(name: str, number: int, line: str, field: str) -> str:
    # Blank lines are an error rather than skipped: skipping would misalign hypotheses and references.
    if not line.strip():
        raise SummaeError(f"{name} line {number}: empty line, expected a JSON object")
    try:
        return parse_record(line, field, require_field=True)[field]
    except ValueError as e:
        raise SummaeError(f"{name} line {number}: {e}") from None


def iter_texts(path: str, *, field: str | None = None, encoding: str = "utf-8") -> Iterator[str]:
    """read_texts one line at a time (constant memory); the file is opened, and checked, right away."""

    encoding = check_encoding(encoding)
    # The extension decides, not the content: a .txt line that happens to be JSON is still one text.
    is_jsonl = field is not None if path == "-" else path.lower().endswith(".jsonl")
    if is_jsonl and field is None:
        raise SummaeError(f"{path} is jsonl: pass --field NAME")
    name, handle = _open_input(path)

    def lines() -> Iterator[str]:
        offset = 0  # bytes before the current line, for error messages
        with handle if path != "-" else contextlib.nullcontext(handle):
            # Split on b"\n" only (not str.splitlines' \r, \x0b, \u2028...): line i is what `sed -n {i}p` prints.
            for number, raw in enumerate(handle, start=1):
                line = decode_line(name, number, raw.removesuffix(b"\n"), offset=offset, encoding=encoding)
                offset += len(raw)
                line = line.removesuffix("\r")
                yield _jsonl_value(name, number, line, field) if is_jsonl else line

    return lines()


def read_texts(path: str, *, field: str | None = None, encoding: str = "utf-8") -> list[str]:
    """One text per line of a .txt file, or the `field` of each record of a .jsonl file ("-" = stdin).

    Text files keep empty lines as "" so line i still matches line i of the other files. A .jsonl file
    needs `field` (no default: guessing "summary" would silently score the wrong column). For "-", the
    input is read as jsonl when `field` is given, as text otherwise; `field` is ignored for text files so
    a jsonl hypothesis file can be scored against plain-text references. `encoding`: the files' encoding
    (UTF-8 by default; any encoding that writes "\\n" as one byte, such as latin-1).
    """
    return list(iter_texts(path, field=field, encoding=encoding))
