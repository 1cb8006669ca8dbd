"""Writing the user's output: `OutputSink` writes every output file (each run through a temporary file of its own,
renamed at the end), and `annotate_file` is the read-produce-write loop of `summarize` and `score` (records read by
summae.io).
"""

from __future__ import annotations

import json
import os
import secrets
import sys
from collections import deque
from collections.abc import Iterator
from pathlib import Path

from summae.errors import SummaeError
from summae.io import iter_records


class OutputSink:
    """Writes lines to FILE through a temporary file of its own (renamed to FILE at the end), or to stdout.

    Each sink writes to a fresh FILE.<random>.partial in FILE's directory (line-buffered), so FILE keeps its
    previous content until a run succeeds, and two runs writing the same FILE at once never share a file:
    each renames its own complete output onto FILE (atomically), and the last to finish wins. A run that
    fails or is interrupted (Ctrl-C) keeps what it wrote as that .partial file, complete lines only but for
    the last, and names it in a note on the exception (`kept`); one killed outright leaves it too. Another
    run never removes it: a .partial may be a concurrent run's. Use it as a context manager (finish(ok) on
    leaving), or call finish yourself.
    """

    def __init__(self, path: str | None):
        self.path = None if path in (None, "-") else Path(path)
        self.handle = None
        self.partial: Path | None = None  # the temporary file (None for stdout)
        self.kept: Path | None = None  # set when a failed run left its lines in self.partial
        self.written = 0  # lines written so far
        if self.path is not None:
            self.handle = self._open_partial()

    def _open_partial(self):
        directory = self.path.parent if str(self.path.parent) else Path(".")
        if self.path.is_dir():
            raise SummaeError(f"cannot write {self.path}: it is a directory")
        if not directory.is_dir():
            raise SummaeError(f"cannot write {self.path}: directory {directory} does not exist")
        if not os.access(directory, os.W_OK) or (self.path.exists() and not os.access(self.path, os.W_OK)):
            raise SummaeError(f"cannot write {self.path}: permission denied")
        for _ in range(100):  # a name no other run has: concurrent runs over the same FILE each get their own
            partial = directory / f"{self.path.name}.{secrets.token_hex(4)}.partial"
            try:  # O_EXCL, as tempfile.mkstemp, but mode 0666 less the umask, as a plain `> FILE` would give
                fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
                break
            except FileExistsError:
                continue
            except OSError as err:
                raise SummaeError(f"cannot write {self.path}: {(err.strerror or str(err)).lower()}") from None
        else:
            raise SummaeError(f"cannot write {self.path}: no free temporary name in {directory}")
        self.partial = partial
        if self.path.exists():  # FILE keeps its mode when replaced (a private file stays private)
            os.fchmod(fd, self.path.stat().st_mode & 0o777)
        return os.fdopen(fd, "w", encoding="utf-8", buffering=1)

    def write(self, line: str) -> None:
        if self.handle is None:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()
        else:
            self.handle.write(line + "\n")
        self.written += 1

    def finish(self, ok: bool) -> None:
        """ok: the .partial file becomes FILE. Not ok: it stays (and `kept` names it) if it holds anything,
        else it goes."""
        if self.handle is None or self.handle.closed:
            return
        try:
            self.handle.flush()
            os.fsync(self.handle.fileno())
            self.handle.close()
            if ok:
                os.replace(self.partial, self.path)
            elif self.written:
                self.kept = self.partial
            else:
                self.partial.unlink(missing_ok=True)
        except OSError as err:  # e.g. the disk filled up
            if not self.handle.closed:
                self.handle.close()
            error = SummaeError(f"cannot write {self.path}: {(err.strerror or str(err)).lower()}")
            if self.written and self.partial.exists():
                self.kept = self.partial
                error.add_note(self._kept_note())
            raise error from None

    def fail(self, error: BaseException) -> None:
        """finish(ok=False) on the way out of an error; the error gets a note naming the kept lines."""
        self.finish(ok=False)
        if self.kept is not None:
            error.add_note(self._kept_note())

    def _kept_note(self) -> str:
        return f"output so far ({self.written} line{'s' if self.written != 1 else ''}) kept in {self.kept}"

    def __enter__(self) -> "OutputSink":
        return self

    def __exit__(self, kind, error, traceback) -> None:
        if error is None:
            self.finish(ok=True)
        else:
            self.fail(error)


def same_terminal(out, err) -> bool:
    """Whether two streams are one terminal, where a progress bar on err would be drawn among out's lines."""
    try:
        if not (out.isatty() and err.isatty()):
            return False
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False
    try:
        return os.fstat(out.fileno()).st_rdev == os.fstat(err.fileno()).st_rdev
    except (AttributeError, OSError, ValueError):  # terminals without a file descriptor: assume they are one
        return True


def annotate_file(input_path: str, output_path: str | None, produce, *, field: str, output_field: str,
                  overwrite: bool, fmt: str | None, skip_bad: bool, encoding: str, progress: bool,
                  as_line=str, reader=None) -> dict:
    """The file driver of `summarize` and `score`: stream the records of input_path, feed their texts to
    produce(texts) -> values (in order, one per text), write each value as a txt line (`as_line`) or into the
    jsonl record's `output_field`, through an OutputSink. Returns counts: documents, skipped (bad records).
    reader: (record | None, text) pairs to use instead of input_path's (a FolderReader: one record per file)."""
    from tqdm.auto import tqdm

    if reader is None:
        reader = iter_records(input_path, field=field, skip_bad=skip_bad, fmt=fmt, encoding=encoding)
    records: deque = deque()  # records waiting for their values (at most one batch window)

    def texts() -> Iterator[str]:
        for record, text in reader:
            if record is not None and output_field in record and not overwrite:
                raise SummaeError(f"{input_path}: a record already has a field {output_field!r}; pass --overwrite "
                                  f"or choose --output-field")
            records.append(record)
            yield text

    sink = OutputSink(output_path)
    # summaries on the terminal that shows the bar would be cut by its redraws: there the lines scrolling
    # by are the progress, and the bar stays off (a redirected stdout, or --output FILE, keeps it)
    quiet = not progress or (sink.handle is None and same_terminal(sys.stdout, sys.stderr))
    done = 0
    with sink, tqdm(unit="doc", disable=quiet, file=sys.stderr, leave=False) as bar:
        for value in produce(texts()):
            record = records.popleft()
            if record is None:
                sink.write(as_line(value))
            else:
                record[output_field] = value
                sink.write(json.dumps(record, ensure_ascii=False))
            done += 1
            bar.update(1)
        if done == 0:
            raise SummaeError(f"{input_path} holds no documents")
    return {"documents": done, "skipped": getattr(reader, "skipped", 0)}
