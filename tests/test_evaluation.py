"""Tests for summae.eval.rouge: ROUGE protocol, DUC cut, baselines, file reading and reports."""

import io
import json
import sys
import warnings
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rouge_score import rouge_scorer

from summae.errors import SummaeError
from summae.eval.rouge import NON_LATIN_WARNING, evaluate_files, format_table, rouge_scores
from summae.eval.baselines import baseline_summaries, lead_words, prefix_bytes
from summae.io import read_texts

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"

HYPS = ["police arrest man over bank robbery", "stocks fall sharply in tokyo trading", "the cat sat"]
REFS = [
    ["man arrested after bank robbery", "police detain robbery suspect"],
    ["tokyo stocks close lower"],
    ["a cat sat on the mat", "cats sitting", "the dog sat"],
]


def _write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def _expected(hyps, refs, measure: str) -> dict:
    """The protocol computed straight from rouge-score: per-pair score, mean over refs, mean over docs."""
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)
    out = {}
    for key in ("rouge1", "rouge2", "rougeL"):
        per_doc = [
            sum(getattr(scorer.score(r, h)[key], measure) for r in rs) / len(rs) for h, rs in zip(hyps, refs)
        ]
        out[key] = round(100 * sum(per_doc) / len(per_doc), 2)
    return out


# --- ROUGE ---------------------------------------------------------------------------------------------


def test_file_scored_against_itself_is_100(tmp_path):
    path = _write(tmp_path, "h.txt", "\n".join(HYPS) + "\n")
    result = evaluate_files(path, [path])
    assert (result["rouge1"], result["rouge2"], result["rougeL"]) == (100.0, 100.0, 100.0)
    assert result["n"] == 3 and result["mode"] == "f1"
    assert result["hyps"] == path and result["refs"] == [path]


def test_rouge_scores_match_rouge_score_with_multi_reference_averaging():
    result = rouge_scores(HYPS, REFS)
    expected = _expected(HYPS, REFS, "fmeasure")
    assert {k: result[k] for k in expected} == expected
    # Averaging (not max) over references must matter here, or this test would not check it.
    best = _expected(HYPS, [[rs[0]] for rs in REFS], "fmeasure")
    assert best != expected
    assert result["words"] == round(sum(len(h.split()) for h in HYPS) / 3, 2)
    assert result["n"] == 3 and "warning" not in result


def test_duc_mode_cuts_at_75_bytes_and_uses_recall():
    head = "the quick brown fox jumps over the lazy dog near the old river bank today"  # 73 bytes
    assert len(head.encode()) == 73
    ref = "zebra giraffe elephant"
    hyp = head + " " + ref  # the words that match the reference all start beyond byte 75
    cut = prefix_bytes(hyp, 75)
    assert cut == head + " z" and len(cut.encode()) == 75

    result = rouge_scores([hyp], [[ref]], duc=True)
    assert {k: result[k] for k in ("rouge1", "rouge2", "rougeL")} == _expected([cut], [[ref]], "recall")
    assert result["rouge1"] == 0.0  # uncut, recall would be 100: the cut really happened
    assert _expected([hyp], [[ref]], "recall")["rouge1"] == 100.0
    assert result["words"] == len(cut.split()) == 16

    # Recall, not F1: a short hypothesis made of reference words has precision 1 and recall < 1.
    short = rouge_scores(["quick fox"], [[head]], duc=True)
    assert short["rouge1"] == _expected(["quick fox"], [[head]], "recall")["rouge1"]
    assert short["rouge1"] != _expected(["quick fox"], [[head]], "fmeasure")["rouge1"]

    # References are cut too: reference words beyond byte 75 do not count against recall.
    duc_r1 = rouge_scores([head], [[hyp]], duc=True)["rouge1"]
    assert duc_r1 == _expected([head], [[cut]], "recall")["rouge1"]
    assert duc_r1 > _expected([head], [[hyp]], "recall")["rouge1"]


def test_mismatched_or_empty_inputs_raise():
    with pytest.raises(SummaeError, match="3 hypotheses but 2"):
        rouge_scores(HYPS, REFS[:2])
    with pytest.raises(SummaeError, match="nothing to score"):
        rouge_scores([], [])
    with pytest.raises(SummaeError, match=r"refs\[0\]"):
        rouge_scores(["a b"], ["a b"])  # a str instead of a list of references
    with pytest.raises(SummaeError, match=r"refs\[1\]"):
        rouge_scores(["a", "b"], [["a"], []])


def test_non_latin_text_warns():
    hyps, refs = ["北京举行新闻发布会"], [["北京召开新闻发布会"]]
    with pytest.warns(UserWarning, match="non-Latin"):
        result = rouge_scores(hyps, refs)
    assert result["warning"] == NON_LATIN_WARNING
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # Latin text with accents and punctuation must not warn
        assert "warning" not in rouge_scores(["café résumé, déjà vu!"], [["café résumé"]])


# --- baselines -----------------------------------------------------------------------------------------


def test_lead_words():
    assert lead_words("  one two\tthree\nfour five ", 3) == "one two three"
    assert lead_words("one two", 8) == "one two"
    assert baseline_summaries(["a b c", "d"], lead=2) == ["a b", "d"]
    assert baseline_summaries(["héllo wörld"], prefix=6) == ["héllo"]  # 6 bytes: h é(2) l l o
    with pytest.raises(SummaeError, match="exactly one"):
        baseline_summaries(["a"], lead=1, prefix=1)
    with pytest.raises(SummaeError, match="exactly one"):
        baseline_summaries(["a"])
    for bad in (0, -1, True):
        with pytest.raises(SummaeError, match=">= 1"):
            baseline_summaries(["a"], lead=bad)


@settings(max_examples=300, deadline=None)
@given(document=st.text(), n=st.integers(min_value=1, max_value=120))
def test_prefix_bytes_is_a_valid_short_prefix(document, n):
    result = prefix_bytes(document, n)
    encoded = result.encode("utf-8")  # would raise on a broken (surrogate) character
    assert len(encoded) <= n
    assert document.strip().startswith(result)
    assert result == result.strip()


def test_prefix_bytes_drops_a_straddling_character():
    assert prefix_bytes("ab€cd", 3) == "ab"  # € is 3 bytes; bytes 3-5 hold it
    assert prefix_bytes("ab€cd", 5) == "ab€"


# --- reading files -------------------------------------------------------------------------------------


def test_read_texts_keeps_empty_lines_and_strips_only_newlines(tmp_path):
    path = tmp_path / "t.txt"
    path.write_bytes(b"\xef\xbb\xbffirst \r\n\n  third\n")
    assert read_texts(str(path)) == ["first ", "", "  third"]
    assert read_texts(_write(tmp_path, "no_newline.txt", "a\nb")) == ["a", "b"]
    assert read_texts(_write(tmp_path, "empty.txt", "")) == []


def test_read_texts_jsonl(tmp_path):
    records = [json.dumps({"summary": s, "id": i}) for i, s in enumerate(HYPS)]
    path = _write(tmp_path, "s.jsonl", "\n".join(records))
    assert read_texts(path, field="summary") == HYPS
    with pytest.raises(SummaeError, match=r"s\.jsonl is jsonl: pass --field NAME"):
        read_texts(path)


@pytest.mark.parametrize(
    "name, content, field, message",
    [
        ("bin.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", None, r"bin\.txt is not UTF-8 text"),
        ("latin.txt", "café crème\n".encode("latin-1"), None, r"latin\.txt is not UTF-8 text"),
        ("f.jsonl", b'{"summary": "a"}\n{"text": "b"}\n', "summary", r"f\.jsonl line 2: .*'summary'"),
        ("m.jsonl", b'{"summary": "a"}\n{"summary": "b"}\n{"summary":\n', "summary",
         r"m\.jsonl line 3: not valid JSON"),
        ("blank.jsonl", b'{"summary": "a"}\n\n{"summary": "b"}\n', "summary", r"blank\.jsonl line 2"),
        ("num.jsonl", b'{"summary": 3}\n', "summary", r"num\.jsonl line 1: field 'summary' is not text \(got number\)"),
    ],
)
def test_read_texts_errors_name_the_file(tmp_path, name, content, field, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(SummaeError, match=message):
        read_texts(str(path), field=field)


def test_read_texts_missing_file(tmp_path):
    missing = str(tmp_path / "nope.txt")
    with pytest.raises(SummaeError, match="no such file: .*nope.txt"):
        read_texts(missing)


def test_read_texts_stdin(monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO("a\n\nb\n".encode())))
    assert read_texts("-") == ["a", "", "b"]
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b'{"s": "x"}\n')))
    assert read_texts("-", field="s") == ["x"]


def test_evaluate_files_line_counts_must_match(tmp_path):
    hyps = _write(tmp_path, "hyps.txt", "a\nb\nc\n")
    refs = _write(tmp_path, "refs.txt", "a\nb\n")
    with pytest.raises(SummaeError, match=r"hyps\.txt: 3, .*refs\.txt: 2"):
        evaluate_files(hyps, [refs])
    with pytest.raises(SummaeError, match="at least one reference"):
        evaluate_files(hyps, [])
    with pytest.raises(SummaeError, match=r"empty\.txt is empty"):
        evaluate_files(_write(tmp_path, "empty.txt", ""), [refs])


def test_evaluate_files_multi_reference_and_duc(tmp_path):
    hyps = _write(tmp_path, "h.jsonl", "\n".join(json.dumps({"summary": h}) for h in HYPS) + "\n")
    # Two reference files; a document with one reference repeats it.
    columns = [[rs[min(k, len(rs) - 1)] for rs in REFS] for k in range(2)]
    ref_files = [_write(tmp_path, f"r{k}.txt", "\n".join(col)) for k, col in enumerate(columns)]
    result = evaluate_files(hyps, ref_files, duc=True, field="summary")
    refs = [list(doc_refs) for doc_refs in zip(*columns)]
    expected = _expected(
        [prefix_bytes(h, 75) for h in HYPS], [[prefix_bytes(r, 75) for r in rs] for rs in refs], "recall"
    )
    assert {k: result[k] for k in expected} == expected
    assert result["mode"] == "duc-recall-75b" and result["refs"] == ref_files


# --- reports -------------------------------------------------------------------------------------------


def test_format_table_contains_names_and_numbers():
    rows = {
        "lead-8": {"rouge1": 27.14, "rouge2": 10.1, "rougeL": 25.5, "words": 8.0, "n": 4000},
        "a longer name": {"rouge1": 5, "rouge2": 0.0, "rougeL": 4.456, "words": 12.853},
    }
    table = format_table(rows)
    lines = table.splitlines()
    assert lines[0].split(" | ")[0].strip() == "name" and "R-1" in lines[0] and "words" in lines[0]
    for cell in ("lead-8", "27.14", "10.10", "25.50", "8.00"):
        assert cell in table
    assert "a longer name" in table and "5.00" in table and "4.46" in table and "12.85" in table
    assert len({line.index("|") for line in lines if "|" in line}) == 1  # columns aligned
    assert len({len(line) for line in lines}) == 1
    with pytest.raises(SummaeError, match="lacks 'words'"):
        format_table({"x": {"rouge1": 1, "rouge2": 1, "rougeL": 1}})


# --- real data (RESEARCH.md "Dev-set baselines") -------------------------------------------------------

GIGAWORD = DATA / "gigaword"
DUC2003 = DATA / "duc2003"


@pytest.mark.slow
@pytest.mark.skipif(not (GIGAWORD / "dev.article.txt").exists(), reason="../shared/data/gigaword not present")
@pytest.mark.parametrize(
    "baseline, expected",
    [
        ({"lead": 8}, (27.14, 10.10, 25.50, 8.0)),
        ({"lead": 10}, (29.12, 10.92, 27.04, 10.0)),
        ({"prefix": 75}, (29.58, 11.03, 27.14, 12.85)),
    ],
)
def test_gigaword_dev_baselines_match_research_table(baseline, expected):
    docs = read_texts(str(GIGAWORD / "dev.article.txt"))
    refs = [[t] for t in read_texts(str(GIGAWORD / "dev.title.txt"))]
    result = rouge_scores(baseline_summaries(docs, **baseline), refs)
    assert (result["rouge1"], result["rouge2"], result["rougeL"], result["words"]) == pytest.approx(
        expected, abs=0.011
    )


@pytest.mark.slow
@pytest.mark.skipif(not (DUC2003 / "input.txt").exists(), reason="../shared/data/duc2003 not present")
@pytest.mark.parametrize(
    "baseline, expected",
    [
        ({"lead": 8}, (15.06, 4.43, 13.68)),
        ({"lead": 10}, (18.47, 5.33, 16.48)),
        ({"prefix": 75}, (21.79, 6.35, 19.10)),
    ],
)
def test_duc2003_baselines_match_research_table(baseline, expected, tmp_path):
    docs = read_texts(str(DUC2003 / "input.txt"))
    hyps = _write(tmp_path, "hyps.txt", "\n".join(baseline_summaries(docs, **baseline)) + "\n")
    result = evaluate_files(hyps, [str(DUC2003 / f"task1_ref{k}.txt") for k in range(4)], duc=True)
    assert (result["rouge1"], result["rouge2"], result["rougeL"]) == pytest.approx(expected, abs=0.011)
    assert result["n"] == 624
