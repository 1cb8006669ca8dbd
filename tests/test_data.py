"""summae.io: loading user files through datasets, record-by-record reading, the bundled corpus."""

import gzip
import io
import itertools
import json
import sys

import datasets
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from summae import io as data
from summae.loading import load_texts
from summae.errors import SummaeError

DOCS = ["the cat sat on the mat .", "stocks fell sharply on monday", "ünïcödé text — fine"]


@pytest.fixture(autouse=True)
def _datasets_cache(tmp_path_factory, monkeypatch):
    # keep datasets' Arrow cache out of ~/.cache during tests
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path_factory.getbasetemp() / "hf_cache")


def write(path, content):
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return str(path)


def jsonl(records):
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)


def texts(ds):
    return [row["text"] for row in ds]


# ---------------------------------------------------------------- load_texts: formats


def test_txt_one_document_per_line_blank_dropped(tmp_path):
    f = write(tmp_path / "a.txt", "\ufeff" + DOCS[0] + "\n\n   \n" + DOCS[1] + "\r\n" + DOCS[2])
    ds = load_texts(f)
    assert isinstance(ds, datasets.Dataset)
    assert ds.column_names == ["text"]
    assert texts(ds) == DOCS  # BOM, CRLF and blank lines handled


def test_jsonl_default_field_and_custom_field(tmp_path):
    recs = [{"id": i, "document": d, "summary": f"s{i}"} for i, d in enumerate(DOCS)]
    f = write(tmp_path / "a.jsonl", jsonl(recs))
    assert texts(load_texts(f)) == DOCS
    assert texts(load_texts(f, field="summary")) == ["s0", "s1", "s2"]


def test_jsonl_null_missing_and_blank_values_dropped(tmp_path):
    recs = [{"document": DOCS[0]}, {"document": None}, {"other": 1}, {"document": " "}, {"document": DOCS[1]}]
    assert texts(load_texts(write(tmp_path / "a.jsonl", jsonl(recs)))) == DOCS[:2]


def test_json_array(tmp_path):
    f = write(tmp_path / "a.json", json.dumps([{"document": d} for d in DOCS], indent=2))
    assert texts(load_texts(f)) == DOCS


def test_csv_field_with_quotes_and_na_strings(tmp_path):
    f = write(tmp_path / "a.csv", 'id,document\n1,"hello, ""world""\nsecond line"\n2,NA\n3,\n4,42\n')
    assert texts(load_texts(f)) == ['hello, "world"\nsecond line', "NA", "42"]


def test_parquet_field(tmp_path):
    f = str(tmp_path / "a.parquet")
    pq.write_table(pa.table({"body": DOCS + [None], "n": [1, 2, 3, 4]}), f)
    assert texts(load_texts(f, field="body")) == DOCS


def test_gzip_jsonl(tmp_path):
    f = tmp_path / "a.jsonl.gz"
    f.write_bytes(gzip.compress(jsonl([{"document": d} for d in DOCS]).encode()))
    assert texts(load_texts(str(f))) == DOCS


def test_glob_over_files_with_different_columns(tmp_path):
    write(tmp_path / "b.jsonl", jsonl([{"document": DOCS[1], "extra": 1}]))
    write(tmp_path / "a.jsonl", jsonl([{"document": DOCS[0]}]))
    write(tmp_path / "c.jsonl", jsonl([{"id": "x", "document": DOCS[2]}]))
    assert texts(load_texts(str(tmp_path / "*.jsonl"))) == DOCS  # sorted within the glob


def test_resolve_files_order_dedup_and_errors(tmp_path):
    a, b = write(tmp_path / "a.txt", "x\n"), write(tmp_path / "b.txt", "y\n")
    assert data.resolve_files([b, str(tmp_path / "*.txt")]) == [b, a]
    with pytest.raises(SummaeError, match="no file matches .*nope"):
        data.resolve_files([a, str(tmp_path / "nope*.txt")])
    with pytest.raises(SummaeError, match="directory"):
        data.resolve_files(str(tmp_path))
    assert data.resolve_files("bundled:debian/train.jsonl") == [str(data.BUNDLED_DIR / "train.jsonl")]


def test_streaming_gives_iterable_with_same_texts(tmp_path):
    write(tmp_path / "a.jsonl", jsonl([{"document": DOCS[0]}, {"document": ""}, {"document": DOCS[1]}]))
    write(tmp_path / "b.jsonl", jsonl([{"document": DOCS[2]}]))
    pattern = str(tmp_path / "*.jsonl")
    ds = load_texts(pattern, streaming=True)
    assert isinstance(ds, datasets.IterableDataset)
    assert texts(ds) == texts(load_texts(pattern)) == DOCS
    txt = write(tmp_path / "c.txt", "\n".join(DOCS) + "\n\n")
    assert texts(load_texts(txt, streaming=True)) == DOCS


# ---------------------------------------------------------------- load_texts: errors


def test_missing_field_names_field_file_and_columns(tmp_path):
    f = write(tmp_path / "a.jsonl", jsonl([{"id": 1, "text": "x"}]))
    with pytest.raises(SummaeError, match=r"a\.jsonl has no field 'document' \(its fields: id, text\)"):
        load_texts(f)
    c = write(tmp_path / "a.csv", "id,text\n1,x\n")
    with pytest.raises(SummaeError, match=r"a\.csv has no field 'body' \(its fields: id, text\)"):
        load_texts(c, field="body")
    j = write(tmp_path / "a.json", json.dumps([{"title": "x"}]))
    with pytest.raises(SummaeError, match="has no field 'document'"):
        load_texts(j)


def test_non_text_field_is_an_error(tmp_path):
    f = write(tmp_path / "a.jsonl", jsonl([{"document": "x"}, {"document": 5}]))
    with pytest.raises(SummaeError, match=r"a\.jsonl line 2: field 'document' is not text \(got number\)"):
        load_texts(f)
    big = write(tmp_path / "big.jsonl", jsonl([{"document": f"doc {i}"} for i in range(5000)] + [{"document": 7}]))
    with pytest.raises(SummaeError, match=r"big\.jsonl line 5001: field 'document' is not text"):
        load_texts(big)  # past the 64 KB pre-check: found by rescanning after datasets typed the column
    pq.write_table(pa.table({"document": [1, 2]}), tmp_path / "n.parquet")
    with pytest.raises(SummaeError, match=r"n\.parquet: field 'document' is not text"):
        load_texts(str(tmp_path / "n.parquet"))


NOT_UTF8 = [b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",  # binary
            "caf\xe9 cr\xe8me\n".encode("latin-1"), "utf-16\n".encode("utf-16")]


@pytest.mark.parametrize("content", NOT_UTF8)
@pytest.mark.parametrize("name", ["a.txt", "a.jsonl", "a.csv"])
def test_binary_and_latin1_files_are_not_utf8(tmp_path, content, name):
    with pytest.raises(SummaeError, match=r"a\.\w+ is not UTF-8 text \(line 1\)"):
        load_texts(write(tmp_path / name, content))


def test_bad_byte_after_the_peek_is_found_with_its_line(tmp_path):
    lines = ["ok line number %d" % i for i in range(10_000)]  # ~180 KB: beyond the 64 KB pre-check
    f = write(tmp_path / "a.txt", ("\n".join(lines) + "\n").encode() + b"caf\xe9\n")
    with pytest.raises(SummaeError, match=r"is not UTF-8 text \(line 10001\)"):
        load_texts(f)


@pytest.mark.parametrize("name,content", [("a.txt", ""), ("a.txt", " \n\n"), ("a.jsonl", ""),
                                          ("a.csv", "document\n"), ("a.jsonl", '{"document": " "}\n')])
def test_empty_files_have_no_text(tmp_path, name, content):
    with pytest.raises(SummaeError, match=r"a\.\w+ has no text"):
        load_texts(write(tmp_path / name, content))


def test_malformed_json_names_the_line(tmp_path):
    f = write(tmp_path / "a.jsonl", '{"document": "a"}\n\n{"document": "b"\n{"document": "c"}\n')
    with pytest.raises(SummaeError, match=r"a\.jsonl line 3: not valid JSON"):
        load_texts(f)


def test_malformed_json_after_the_peek_is_found_by_rescanning(tmp_path):
    good = jsonl([{"document": f"document number {i}"} for i in range(4000)])  # ~120 KB
    f = write(tmp_path / "a.jsonl", good + '{"document": oops}\n')
    with pytest.raises(SummaeError, match=r"a\.jsonl line 4001: not valid JSON"):
        load_texts(f)


def test_mixed_formats_and_unknown_extension(tmp_path):
    a, b = write(tmp_path / "a.txt", "x\n"), write(tmp_path / "b.jsonl", jsonl([{"document": "y"}]))
    with pytest.raises(SummaeError, match="share a format"):
        load_texts([a, b])
    with pytest.raises(SummaeError, match="unknown format"):
        load_texts(write(tmp_path / "a.docx", "x"))


def test_corrupt_gzip_and_parquet(tmp_path):
    with pytest.raises(SummaeError, match=r"cannot read .*a\.txt\.gz"):
        load_texts(write(tmp_path / "a.txt.gz", b"\x1f\x8b not really gzip"))
    with pytest.raises(SummaeError, match="not a Parquet file"):
        load_texts(write(tmp_path / "a.parquet", b"PAR1 nope"))


# ---------------------------------------------------------------- iter_records / read_lines


def test_iter_records_txt_keeps_blank_lines(tmp_path):
    f = write(tmp_path / "in.txt", "one\r\n\ntwo")
    assert list(data.iter_records(f)) == [(None, "one"), (None, ""), (None, "two")]


def test_iter_records_jsonl(tmp_path):
    recs = [{"id": 1, "document": "a"}, {"id": 2, "document": "b", "x": [1]}]
    f = write(tmp_path / "in.jsonl", jsonl(recs[:1]) + "\n" + jsonl(recs[1:]))
    assert list(data.iter_records(f)) == [(recs[0], "a"), (recs[1], "b")]


BAD_LINES = [('{"document": "a"', "not valid JSON"), ("[1]", "not a JSON object"),
             ('{"text": "a"}', r"no field 'document' \(fields: text\)"),
             ('{"document": null}', r"field 'document' is not text \(got null\)"),
             ('{"document": 3}', r"is not text \(got number\)"),
             (b'{"document": "caf\xe9"}', r"is not UTF-8 text \(line 2\)")]


@pytest.mark.parametrize("line,problem", BAD_LINES)
def test_iter_records_bad_lines_raise_or_skip(tmp_path, line, problem):
    line = line if isinstance(line, bytes) else line.encode()
    f = write(tmp_path / "in.jsonl", b'{"document": "ok"}\n' + line + b'\n{"document": "ok2"}\n')
    with pytest.raises(SummaeError, match=problem):
        list(data.iter_records(f))
    if "UTF-8" not in problem:
        with pytest.raises(SummaeError, match=r"in\.jsonl line 2: "):
            list(data.iter_records(f))
    reader = data.iter_records(f, skip_bad=True)
    assert [text for _, text in reader] == ["ok", "ok2"]
    assert reader.skipped == 1


def test_iter_records_stdin_bytes_and_text(monkeypatch):
    stdin = io.TextIOWrapper(io.BytesIO("één\ntwo\n".encode()), encoding="utf-8")
    monkeypatch.setattr(sys, "stdin", stdin)
    assert list(data.iter_records("-")) == [(None, "één"), (None, "two")]
    monkeypatch.setattr(sys, "stdin", io.StringIO('{"document": "x", "id": 1}\n'))  # no .buffer
    assert list(data.iter_records("-", fmt="jsonl")) == [({"document": "x", "id": 1}, "x")]
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"ok\n\xff\n")))
    with pytest.raises(SummaeError, match=r"<stdin> is not UTF-8 text \(line 2\)"):
        list(data.iter_records("-"))


def test_iter_records_errors_up_front(tmp_path):
    with pytest.raises(SummaeError, match="no file"):
        data.iter_records(str(tmp_path / "missing.txt"))
    with pytest.raises(SummaeError, match="input format"):
        data.iter_records(write(tmp_path / "a.csv", "x"))


def test_read_lines(tmp_path):
    assert data.read_lines(write(tmp_path / "h.txt", "\ufeffa b\nc\n")) == ["a b", "c"]
    with pytest.raises(SummaeError, match="not UTF-8 text"):
        data.read_lines(write(tmp_path / "bin.txt", b"\x00\x01"))


# ---------------------------------------------------------------- the bundled corpus


def test_bundled_corpus():
    d = data.BUNDLED_DIR
    train = [json.loads(line) for line in (d / "train.jsonl").read_text(encoding="utf-8").splitlines()]
    test = [json.loads(line) for line in (d / "test.jsonl").read_text(encoding="utf-8").splitlines()]
    assert (len(train), len(test)) == (5500, 500)
    assert all(set(r) == {"id", "document", "summary"} for r in train + test)
    assert all("\n" not in r["document"] and "  " not in r["document"] for r in train)
    test_ids = data.read_lines(d / "test_ids.txt")
    assert test_ids == sorted(r["id"] for r in test)
    assert not set(test_ids) & {r["id"] for r in train}
    assert sorted(data.read_lines(d / "headlines.txt")) == sorted(r["summary"] for r in train)
    assert "Debian 12" in (d / "NOTICE").read_text()
    assert len(load_texts("bundled:debian/test.jsonl")) == 500


# ---------------------------------------------------------------- fuzz: SummaeError or success, nothing else

_scalar = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8)


def _containers(children):
    return st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)


_json_value = st.recursive(_scalar, _containers, max_leaves=8)
_record = st.dictionaries(st.sampled_from(["document", "id", "x"]), _json_value, max_size=3)
_lines = st.lists(st.one_of(st.text(max_size=30), _record.map(json.dumps)), max_size=6).map("\n".join)
_content = st.one_of(st.binary(max_size=200), _lines, _lines.map(str.encode))  # bytes: arbitrary; str: UTF-8
_fuzz_ids = itertools.count()


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(content=_content, ext=st.sampled_from([".txt", ".jsonl"]))
def test_fuzz_load_or_summae_error(tmp_path, content, ext):
    path = tmp_path / f"fuzz{next(_fuzz_ids)}{ext}"  # a new name each time: datasets caches by path and mtime
    write(path, content)
    for load in (lambda: texts(load_texts(str(path))), lambda: list(data.iter_records(str(path)))):
        try:
            load()
        except SummaeError:
            pass
