"""Hypothesis fuzzing of the input readers and the config loader: whatever the bytes, the only outcomes
allowed are a valid result or a SummaeError (the CLI prints it as one line); any other exception is a bug.
(load_texts, which goes through datasets, is fuzzed in test_data.py.)"""

import dataclasses
import itertools
import json

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from summae import config as config_module
from summae.io import iter_records, read_lines
from summae.errors import SummaeError
from summae.io import read_texts

FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
_names = itertools.count()  # a fresh file name per example: tmp_path is shared by all of a test's examples

# ---------------------------------------------------------------- file contents

_scalar = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10)
_json = st.recursive(_scalar, lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=5), c, max_size=3),
                     max_leaves=6)
_record = st.dictionaries(st.sampled_from(["document", "summary", "id"]), _json, max_size=3).map(json.dumps)
_line = st.one_of(st.text(max_size=40), _record, st.binary(max_size=20).map(lambda b: b.decode("latin-1")))
_text = st.lists(_line, max_size=8).map("\n".join)
# arbitrary bytes; UTF-8 text of JSON-ish lines; the same text in latin-1, with CRLF, with a BOM, cut mid-line
_content = st.one_of(
    st.binary(max_size=300),
    _text.map(lambda t: t.encode("utf-8", "surrogatepass")),
    _text.map(lambda t: t.encode("latin-1", "replace")),
    _text.map(lambda t: t.replace("\n", "\r\n").encode("utf-8", "surrogatepass")),
    _text.map(lambda t: b"\xef\xbb\xbf" + t.encode("utf-8", "surrogatepass")),
    _text.map(lambda t: t.encode("utf-8", "surrogatepass")[: len(t) // 2]),
)


def _file(tmp_path, content: bytes, ext: str):
    path = tmp_path / f"fuzz{next(_names)}{ext}"
    path.write_bytes(content)
    return str(path)


def _valid_or_summae_error(read):
    try:
        return read()
    except SummaeError as err:
        assert "\n" not in str(err), f"a multi-line error: {err!r}"
        return None


@FUZZ
@given(content=_content, ext=st.sampled_from([".txt", ".jsonl"]), skip_bad=st.booleans(),
       encoding=st.sampled_from(["utf-8", "latin-1"]))
def test_iter_records(tmp_path, content, ext, skip_bad, encoding):
    path = _file(tmp_path, content, ext)
    reader = iter_records(path, skip_bad=skip_bad, encoding=encoding)
    items = _valid_or_summae_error(lambda: list(reader))
    if items is None:
        return
    for record, text in items:
        assert isinstance(text, str) and "\n" not in text
        if ext == ".jsonl":
            assert record["document"] == text
            json.dumps(record, ensure_ascii=False).encode("utf-8")  # what summarize writes back must encode
    if ext == ".txt" and encoding == "latin-1":  # latin-1 decodes every byte: only NUL bytes may fail (skip_bad
        # skips their lines and counts them)
        lines = content.count(b"\n") + (not content.endswith(b"\n")) - (content == b"")
        assert len(items) + getattr(reader, "skipped", 0) == lines


@FUZZ
@given(content=_content)
def test_read_lines(tmp_path, content):
    lines = _valid_or_summae_error(lambda: read_lines(_file(tmp_path, content, ".txt")))
    if lines is not None:
        assert all(isinstance(line, str) and "\n" not in line for line in lines)


@FUZZ
@given(content=_content, ext=st.sampled_from([".txt", ".jsonl"]), field=st.sampled_from([None, "summary"]))
def test_read_texts(tmp_path, content, ext, field):
    path = _file(tmp_path, content, ext)
    texts = _valid_or_summae_error(lambda: read_texts(path, field=field))
    if texts is not None:
        assert all(isinstance(t, str) for t in texts)
        if ext == ".txt":  # one text per line, as `wc -l` counts them (plus an unterminated last line)
            assert len(texts) == content.count(b"\n") + (bool(content) and not content.endswith(b"\n"))


# ---------------------------------------------------------------- configs

def _fields(cls) -> dict:
    return {f.name: f for f in dataclasses.fields(cls)}


_SECTIONS = {name: f.default_factory for name, f in _fields(config_module.Config).items() if name != "name"}
_KEYS = [f"{section}.{key}" for section, cls in _SECTIONS.items() for key in _fields(cls)]
_yaml_scalar = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=True),
                         st.text(max_size=12), st.sampled_from(["3e-4", "1.0e-3", "no", "on", "~", ".inf", "[1, 2]"]))
_yaml_value = st.recursive(_yaml_scalar, lambda c: st.lists(c, max_size=3) | st.dictionaries(
    st.text(max_size=6), c, max_size=2), max_leaves=5)
_key = st.one_of(st.sampled_from(_KEYS), st.text(max_size=15))
_config_dict = st.dictionaries(st.sampled_from(list(_SECTIONS) + ["name", "bogus"]),
                               st.one_of(st.dictionaries(st.sampled_from(_KEYS).map(lambda k: k.split(".")[1]),
                                                         _yaml_value, max_size=4), _yaml_value), max_size=4)
_config_text = st.one_of(st.text(max_size=200), _config_dict.map(lambda d: yaml.safe_dump(d, allow_unicode=True)),
                         st.binary(max_size=100).map(lambda b: b.decode("latin-1")))
_override = st.one_of(st.tuples(_key, _yaml_scalar.map(str)).map("=".join), st.text(max_size=30))


@FUZZ
@given(text=_config_text, overrides=st.lists(_override, max_size=3), raw=st.booleans())
def test_load_config(tmp_path, text, overrides, raw):
    path = tmp_path / f"fuzz{next(_names)}.yaml"
    path.write_bytes(text.encode("latin-1", "replace") if raw else text.encode("utf-8", "surrogatepass"))
    cfg = _valid_or_summae_error(lambda: config_module.load_config(path, overrides))
    if cfg is not None:
        assert isinstance(cfg, config_module.Config)
        again = config_module.Config.from_dict(yaml.safe_load(cfg.to_yaml())).validated()  # round trip
        assert again == cfg


@pytest.mark.parametrize("item", ["model=3", "=3", ".=1", "model.=1", "model..d_model=1", "name.x=1",
                                  "train.steps=1=2", "train.steps==3", "data.train_files=[[1]]"])
def test_set_override_edge_cases(tmp_path, item):
    path = tmp_path / "c.yaml"
    path.write_text("name: x\n")
    _valid_or_summae_error(lambda: config_module.load_config(path, [item]))
