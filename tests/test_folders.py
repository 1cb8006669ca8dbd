"""Folders of files: summae.io.FolderReader, `summae summarize --input DIR` and scripts/summarize_folder.py, which
read each file whole as one document (up to model.max_source_tokens, the cut ones counted)."""

import gzip
import json
import re
from pathlib import Path

import pytest
from conftest import REPO, load_script, shown_lines

from summae.errors import SummaeError
from summae.io import FILE_BYTES, FolderReader, folder_files

TEST_JSONL = REPO / "summae" / "data" / "debian" / "test.jsonl"
DEFAULT_WORDS = 4  # summae/configs/tiny.yaml: summary.default_words (model.max_source_tokens is 24)


@pytest.fixture(scope="module")
def documents():
    with open(TEST_JSONL, encoding="utf-8") as handle:
        return [json.loads(line)["document"] for _, line in zip(range(4), handle)]


@pytest.fixture
def folder(tmp_path, documents):
    """Three text files (one over several lines, one in a sub-folder), and files never read by default."""
    root = tmp_path / "notes"
    (root / "sub").mkdir(parents=True)
    (root / "b.txt").write_text(documents[0].replace(". ", ".\n"), encoding="utf-8")  # one document, many lines
    (root / "a.txt").write_text("\ufeff" + documents[1] + "\n", encoding="utf-8")  # a BOM is not a word
    (root / "sub" / "c.txt").write_text(documents[2], encoding="utf-8")
    (root / ".hidden.txt").write_text("an editor's swap file", encoding="utf-8")
    (root / "a.summary.txt").write_text("an earlier output of scripts/summarize_folder.py", encoding="utf-8")
    (root / "readme.md").write_text(documents[3], encoding="utf-8")
    return root


def read(root, **kwargs) -> list[tuple[str, str]]:
    return [(record["file"], text) for record, text in FolderReader(root, **kwargs)]


# ---------------------------------------------------------------- FolderReader


def test_each_file_is_one_document_in_name_order(folder, documents):
    got = read(folder)
    assert got == [("a.txt", documents[1]), ("b.txt", " ".join(documents[0].split()))]  # whitespace collapsed
    assert [name for name, _ in read(folder, pattern="**/*.txt")] == ["a.txt", "b.txt", "sub/c.txt"]
    assert [name for name, _ in read(folder, pattern="*")] == ["a.txt", "b.txt", "readme.md"]  # no hidden, no outputs


def test_empty_files_are_skipped_and_counted(folder):
    (folder / "blank.txt").write_text(" \n\t\n", encoding="utf-8")
    (folder / "zero.txt").write_bytes(b"")
    reader = FolderReader(folder)
    assert [r["file"] for r, _ in reader] == ["a.txt", "b.txt"]
    assert reader.skipped == 2 and reader.note() == "skipped 2 files (2 empty)"


@pytest.mark.parametrize("name, content, fragment", [
    ("binary.txt", b"\x89PNG\r\n\x1a\n\x00\x00", "looks binary"),
    ("latin.txt", "café olé".encode("latin-1"), "invalid byte 0xe9"),
])
def test_a_file_that_is_not_text_is_one_line_error_or_a_counted_skip(folder, name, content, fragment):
    (folder / name).write_bytes(content)
    with pytest.raises(SummaeError) as caught:
        read(folder)
    message = str(caught.value)
    assert "\n" not in message and name in message and fragment in message and "--skip-bad" in message
    reader = FolderReader(folder, skip_bad=True)
    assert [r["file"] for r, _ in reader] == ["a.txt", "b.txt"]
    assert reader.note() == "skipped 1 file (1 not utf-8 text)"


def test_another_encoding_is_read_when_named(folder):
    (folder / "latin.txt").write_bytes("café olé".encode("latin-1"))
    assert ("latin.txt", "café olé") in read(folder, encoding="latin-1")


def test_a_corrupt_compressed_file_is_unreadable(folder):
    (folder / "good.txt.gz").write_bytes(gzip.compress(b"compressed words here"))
    (folder / "bad.txt.gz").write_bytes(gzip.compress(b"some words")[:-12])  # truncated
    with pytest.raises(SummaeError, match=r"cannot read .*bad\.txt\.gz.*--skip-bad"):
        read(folder, pattern="*.gz")
    reader = FolderReader(folder, pattern="*.gz", skip_bad=True)
    assert [(r["file"], text) for r, text in reader] == [("good.txt.gz", "compressed words here")]
    assert reader.note() == "skipped 1 file (1 unreadable)"


def test_a_huge_file_is_read_up_to_file_bytes_without_breaking_a_character(tmp_path):
    (tmp_path / "big.txt").write_bytes(b"a" * (FILE_BYTES - 1) + "é tail".encode("utf-8"))  # é straddles the cut
    ((_, text),) = read(tmp_path)
    assert text == "a" * (FILE_BYTES - 1)


@pytest.mark.parametrize("setup, pattern, fragment", [
    (lambda root: None, "*.txt", "matches --glob '*.txt'"),  # an empty folder
    (lambda root: (root / "x.md").write_text("words"), "*.txt", "matches --glob"),
    (lambda root: None, "/etc/*.txt", "relative to the folder"),
    (lambda root: None, "", "relative to the folder"),
])
def test_bad_folders_and_globs_are_one_line_errors(tmp_path, setup, pattern, fragment):
    setup(tmp_path)
    with pytest.raises(SummaeError, match=re.escape(fragment)):
        folder_files(tmp_path, pattern)


def test_a_file_is_not_a_folder(tmp_path):
    (tmp_path / "a.txt").write_text("words", encoding="utf-8")
    with pytest.raises(SummaeError, match="is not a directory"):
        FolderReader(tmp_path / "a.txt")


def test_nothing_left_after_skipping_is_an_error_with_the_counts(tmp_path):
    (tmp_path / "empty.txt").write_text("", encoding="utf-8")
    (tmp_path / "binary.txt").write_bytes(b"\x00\x01")
    with pytest.raises(SummaeError, match=r"nothing to summarize in .*: skipped 2 files \(1 empty, 1 not utf-8 "):
        read(tmp_path, skip_bad=True)


# ---------------------------------------------------------------- summae summarize --input DIR


def test_summarize_a_folder_writes_one_json_line_per_file(cli, tiny_run, folder, tmp_path):
    out_path = tmp_path / "summaries.jsonl"
    code, out, err = cli("summarize", "--model", tiny_run["dir"], "--input", folder, "--glob", "**/*.txt",
                         "--output", out_path, "--quiet")
    assert code == 0, err
    rows = [json.loads(line) for line in out_path.read_text(encoding="utf-8").splitlines()]
    assert [row["file"] for row in rows] == ["a.txt", "b.txt", "sub/c.txt"]
    assert all(set(row) == {"file", "generated_summary"} for row in rows)
    assert all(0 < len(row["generated_summary"].split()) <= DEFAULT_WORDS for row in rows)
    # the Debian descriptions are longer than the tiny model's 24 tokens: each cut, and said so even with --quiet
    assert shown_lines(err) == ["summarized 3 files, 3 longer than model.max_source_tokens (24 tokens) were cut "
                                "to it"]


def test_summarize_a_folder_to_stdout_with_skips_reported(cli, tiny_run, folder):
    (folder / "binary.txt").write_bytes(b"\x00\x01\x02")
    (folder / "empty.txt").write_text("\n", encoding="utf-8")
    code, out, err = cli("summarize", "--model", tiny_run["dir"], "--input", folder, "--skip-bad", "--words", 2,
                         "--output-field", "gist", "--quiet")
    assert code == 0, err
    rows = [json.loads(line) for line in out.splitlines()]
    assert [row["file"] for row in rows] == ["a.txt", "b.txt"]
    assert all(len(row["gist"].split()) <= 2 for row in rows)
    assert "summarized 2 files, skipped 2 files (1 empty, 1 not utf-8 text)" in shown_lines(err)[0]


@pytest.mark.parametrize("extra, fragment", [
    (["--glob", "*.pdf"], "no file in"),
    (["--format", "txt"], "--format is for a file"),
    (["--words", "99"], "--words must be between"),
])
def test_summarize_bad_folder_requests_are_one_line(cli, tiny_run, folder, extra, fragment):
    from test_cli import assert_one_line_error

    code, out, err = cli("summarize", "--model", tiny_run["dir"], "--input", folder, *extra)
    assert_one_line_error(code, out, err, fragment)


def test_summarize_a_binary_file_in_a_folder_is_one_line_without_skip_bad(cli, tiny_run, folder, tmp_path):
    from test_cli import assert_one_line_error

    (folder / "binary.txt").write_bytes(b"\x00\x01\x02")
    out_path = tmp_path / "out.jsonl"
    code, out, err = cli("summarize", "--model", tiny_run["dir"], "--input", folder, "--output", out_path)
    assert_one_line_error(code, out, err, "binary.txt", "looks binary", "--skip-bad")
    assert not out_path.exists()


def test_glob_with_a_file_input_is_one_line(cli, tmp_path):
    from test_cli import assert_one_line_error

    docs = tmp_path / "docs.txt"
    docs.write_text("a document\n", encoding="utf-8")
    code, out, err = cli("summarize", "--input", docs, "--glob", "*.txt")
    assert_one_line_error(code, out, err, "--glob is for a folder")


# ---------------------------------------------------------------- scripts/summarize_folder.py


@pytest.fixture(scope="module")
def script():
    return load_script("scripts/summarize_folder.py")


def test_the_script_writes_the_same_summaries_a_file_each(script, cli, tiny_run, folder, tmp_path, capsys):
    (folder / "empty.txt").write_text("", encoding="utf-8")
    out_dir = tmp_path / "out"
    assert script.main(["--model", str(tiny_run["dir"]), "--input-dir", str(folder), "--output-dir", str(out_dir),
                        "--glob", "**/*.txt", "--device", "cpu"]) == 0
    err = capsys.readouterr().err
    assert f"summarized 3 file(s) into {out_dir}; skipped 1 file (1 empty); 3 longer than" in err
    written = {p.relative_to(out_dir).as_posix(): p.read_text(encoding="utf-8")
               for p in out_dir.rglob("*") if p.is_file()}
    assert sorted(written) == ["a.summary.txt", "b.summary.txt", "sub/c.summary.txt"]
    code, out, _ = cli("summarize", "--model", tiny_run["dir"], "--input", folder, "--glob", "**/*.txt",
                       "--device", "cpu", "--quiet")
    for row in map(json.loads, out.splitlines()):  # the same documents, so the same summaries as the CLI's
        assert written[str(Path(row["file"]).with_suffix(".summary.txt"))] == row["generated_summary"] + "\n"


def test_the_script_refuses_two_files_that_would_write_one_summary(script, tiny_run, folder, tmp_path, capsys):
    (folder / "a.md").write_text("another a", encoding="utf-8")
    code = script.main(["--model", str(tiny_run["dir"]), "--input-dir", str(folder), "--output-dir",
                        str(tmp_path / "out"), "--glob", "*"])
    err = capsys.readouterr().err
    assert code == 2 and len(shown_lines(err)) == 1 and "would both write" in err
