"""Training texts through HF datasets: files -> a datasets column "text" (`load_texts`).

.txt / .jsonl / .json / .csv / .parquet, the text formats optionally .gz, .bz2 or .xz; streaming or not. The files
are looked at before datasets reads them (with summae.io's line checks), because datasets reports bad input as long
tracebacks: every problem with the user's files becomes one SummaeError line naming the file (and line).
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import logging

from summae.errors import SummaeError
from summae.io import CONVERT_HINT, READ_ERRORS, decode_line, raw_lines, resolve_files, split_ext
from summae.jsonline import parse_record

FORMATS = {".txt": "txt", ".jsonl": "json", ".json": "json", ".csv": "csv", ".parquet": "parquet"}
# notices such as skipped-record counts; with no logging set up, Python prints the bare message on stderr
log = logging.getLogger(__name__)
PEEK_BYTES = 64 * 1024  # bytes of each file checked before datasets reads it
_TEXT_DTYPES = ("string", "large_string", "null")  # column types accepted as text (null: no text at all)


def _format_of(files: list[str]) -> str:
    first_of = {}  # format -> first file in it, for the error message
    for path in files:
        ext, compression = split_ext(path)
        if ext not in FORMATS or (compression and ext == ".parquet"):
            raise SummaeError(f"{path}: unknown format (use .txt, .jsonl, .json, .csv or .parquet; "
                              f"the text formats may end in .gz, .bz2 or .xz)")
        first_of.setdefault(FORMATS[ext], path)
    if len(first_of) > 1:
        found = ", ".join(f"{fmt} ({path})" for fmt, path in first_of.items())
        raise SummaeError(f"all input files of one set must share a format, got {found}")
    return next(iter(first_of))


def _names(files: list[str]) -> str:
    return ", ".join(files[:3]) + (f" and {len(files) - 3} more" if len(files) > 3 else "")


# ---------------------------------------------------------------- file checks

def _check_text(path: str, fmt: str, column: str, limit: int | None = None) -> tuple[list[str], bool]:
    """Raise SummaeError at the first line of `path` that is not UTF-8 text or, in JSON lines, not a record
    with a text `column`. Reads the first `limit` bytes (None: all); returns (their complete lines, whole
    file read)."""
    head, whole, first, array = [], True, True, False  # array: a .json file holding one JSON array
    try:
        for lineno, raw, complete, offset in raw_lines(path, limit):
            text = decode_line(path, lineno, raw, complete, offset=offset, hint=CONVERT_HINT)
            whole = complete
            if not complete:
                break
            if limit is not None:
                head.append(text)
            if fmt != "json" or array or not text.strip():
                continue
            if first and text.lstrip().startswith("[") and split_ext(path)[0] == ".json":
                array = True  # datasets parses it whole; the column is checked after loading
                continue
            first = False
            try:
                parse_record(text, column, require_field=False)
            except ValueError as e:
                raise SummaeError(f"{path} line {lineno}: {e}") from None
    except READ_ERRORS as e:
        raise SummaeError(f"cannot read {path}: {e}") from e
    return head, whole


def _missing_field(path: str, column: str, fields) -> SummaeError:
    names = ", ".join(map(str, fields)) or "none"
    return SummaeError(f"{path} has no field {column!r} (its fields: {names})")


def _precheck(path: str, fmt: str, column: str) -> None:
    """Check the head of one file before datasets sees it; small files are checked whole."""
    if fmt == "parquet":
        return _check_parquet(path, column)
    head, whole = _check_text(path, fmt, column, PEEK_BYTES)
    lines = [line for line in head if line.strip()]
    if whole and not lines:
        raise SummaeError(f"{path} has no text")
    if fmt == "json" and lines and not lines[0].lstrip().startswith("["):
        records = [json.loads(line) for line in lines]  # valid objects: _check_text parsed them
        if not any(column in r for r in records):
            raise _missing_field(path, column, records[0])
    if fmt == "csv":
        try:
            rows = list(csv.reader(io.StringIO("\n".join(head))))
        except csv.Error as e:
            raise SummaeError(f"{path} is not valid CSV: {e}") from None
        if rows and column not in rows[0]:
            raise _missing_field(path, column, rows[0])
        if whole and len(rows) < 2:
            raise SummaeError(f"{path} has no text")


def _check_parquet(path: str, column: str) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        names = pq.read_schema(path).names
    except (pa.ArrowException, OSError) as e:
        raise SummaeError(f"{path} is not a Parquet file ({e})") from None
    if column not in names:
        raise _missing_field(path, column, names)  # its type is checked after loading


# ---------------------------------------------------------------- datasets

@contextlib.contextmanager
def _quiet(datasets):
    """No progress bars or logged errors from datasets meanwhile: our SummaeError says it in one line."""
    bars_off, verbosity = datasets.are_progress_bars_disabled(), datasets.logging.get_verbosity()
    datasets.disable_progress_bars()
    datasets.logging.set_verbosity(datasets.logging.CRITICAL)
    try:
        yield
    finally:
        datasets.logging.set_verbosity(verbosity)
        if not bars_off:
            datasets.enable_progress_bars()


def _root_cause(error: BaseException) -> str:
    while error.__cause__ or error.__context__:
        error = error.__cause__ or error.__context__
    message = (str(error).strip().splitlines() or [""])[0][:200]
    return f"{type(error).__name__}: {message}"


def _diagnose(files: list[str], fmt: str, column: str, fallback: SummaeError) -> SummaeError:
    """datasets failed: find the file and line ourselves (a whole-file scan), else the fallback."""
    if fmt != "parquet":
        for path in files:
            try:
                _check_text(path, fmt, column)
            except SummaeError as found:
                return found
    return fallback


def _has_text(batch: dict) -> list[bool]:
    return [bool(t and not t.isspace()) for t in batch["text"]]


def _load(datasets, fmt: str, files: list[str], column: str, streaming: bool):
    """One datasets builder over `files` -> the single column "text" (string)."""
    string = datasets.Value("string")
    builder, options = {  # (datasets builder, its options)
        "txt": ("text", {"encoding": "utf-8-sig"}),  # utf-8-sig: drop a leading BOM
        "json": ("json", {"parse_agent_traces": False}),  # else {"type", "message"} rows pass for agent logs
        # keep_default_na=False: documents such as "NA" or "null" stay text instead of becoming NaN
        "csv": ("csv", {"usecols": [column], "features": datasets.Features({column: string}),
                        "keep_default_na": False, "encoding": "utf-8-sig"}),
        "parquet": ("parquet", {"columns": [column]}),
    }[fmt]
    try:
        ds = datasets.load_dataset(builder, data_files=files, split="train", streaming=streaming, **options)
    except Exception as e:  # datasets wraps every cause in DatasetGenerationError & co.
        fallback = SummaeError(f"cannot read {_names(files)} as {fmt}: {_root_cause(e)}")
        raise _diagnose(files, fmt, column, fallback) from e
    if ds.features is not None:  # None for some streaming builders: then nothing to check before reading
        if column not in ds.features:
            raise _missing_field(_names(files), column, ds.features)
        dtype = ds.features[column]
        if getattr(dtype, "dtype", None) not in _TEXT_DTYPES:  # e.g. Json: numbers among the strings
            not_text = SummaeError(f"{_names(files)}: field {column!r} is not text ({dtype})")
            raise _diagnose(files, fmt, column, not_text)
    ds = ds.select_columns([column])
    if column != "text":
        ds = ds.rename_column(column, "text")
    if ds.features is not None and ds.features["text"] != string:
        ds = ds.cast_column("text", string)  # large_string (parquet) or null: one type, so parts concatenate
    return ds


def load_texts(patterns, *, field: str | None = None, streaming: bool = False):
    """Documents from files as a datasets.Dataset (IterableDataset if streaming) with one column "text".

    .txt: one document per line (`field` is ignored); .jsonl/.json/.csv/.parquet: the `field` column
    ("document" by default). Records without the field, null and blank texts are dropped. Streaming checks
    only the first 64 KB of each file up front: later errors surface from datasets while iterating."""
    files = resolve_files(patterns)
    fmt = _format_of(files)
    column = "text" if fmt == "txt" else (field or "document")
    for path in files:
        _precheck(path, fmt, column)

    import datasets  # late: a second to import, and `summae summarize` never needs it

    with _quiet(datasets):
        if fmt == "json":  # one builder per file: the json builder fails on files whose columns differ
            parts = [_load(datasets, fmt, [path], column, streaming) for path in files]
            ds = parts[0] if len(parts) == 1 else datasets.concatenate_datasets(parts)
        else:
            ds = _load(datasets, fmt, files, column, streaming)
        before = None if streaming else len(ds)
        ds = ds.filter(_has_text, batched=True)
    if not streaming and len(ds) == 0:
        raise SummaeError(f"{_names(files)} has no text")
    if before is not None and fmt != "txt" and len(ds) < before:  # a documented skip, with its count
        log.warning(f"{_names(files)}: skipped {before - len(ds)} of {before} records without text in "
                    f"{column!r} (missing, null or blank)")
    return ds
