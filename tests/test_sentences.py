"""summae.sentences (the splitter) and the Lead-N-sentences baseline built on it."""

import json
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from summae.errors import SummaeError
from summae.eval.baselines import baseline_summaries, lead_sentences
from summae.io import BUNDLED_DIR
from summae.sentences import split_sentences


def test_splits_at_sentence_ends_but_not_at_abbreviations_or_numbers():
    text = "Dr. Smith met Mr. Jones in the U.S. on Jan. 5th. They talked about v1.2.3 of it! Was it good? Yes."
    assert split_sentences(text) == ["Dr. Smith met Mr. Jones in the U.S. on Jan. 5th.",
                                     "They talked about v1.2.3 of it!", "Was it good?", "Yes."]


@pytest.mark.parametrize("text", ["", " ", "\n\n\t ", "\u00a0"])
def test_empty_or_blank_text_has_no_sentence(text):
    assert split_sentences(text) == []


def test_text_without_punctuation_is_one_sentence():
    assert split_sentences("  a list of words with no full stop  ") == ["a list of words with no full stop"]
    words = "word " * 200_000  # 1 MB, one sentence
    assert split_sentences(words) == [words.strip()]


def test_a_blank_line_ends_a_sentence():
    assert split_sentences("Introduction\n\nThis tool does things. It is fast") == [
        "Introduction", "This tool does things.", "It is fast"]


def test_very_long_text_is_split_in_linear_time():
    text = "This is one sentence of a long document. " * 50_000  # 2 MB, 50,000 sentences
    begin = time.perf_counter()
    sentences = split_sentences(text)
    assert len(sentences) == 50_000 and set(sentences) == {"This is one sentence of a long document."}
    assert time.perf_counter() - begin < 10  # milliseconds in practice; pysbd took minutes at this size


def test_lone_surrogates_do_not_crash_the_splitter():
    assert split_sentences("bad \ud800 char. next") == ["bad \ufffd char.", "next"]


def test_not_a_string_is_a_type_error():
    with pytest.raises(TypeError, match="str"):
        split_sentences(b"bytes. more")


@settings(max_examples=300, deadline=None)
@given(text=st.text(alphabet=st.sampled_from("ab .!?\n\t\u00a0Dr.U.S.e.g.1"), max_size=80) | st.text(max_size=80))
def test_sentences_are_stripped_nonempty_and_keep_every_character(text):
    sentences = split_sentences(text)
    assert all(s and s == s.strip() for s in sentences)
    assert "".join("".join(s.split()) for s in sentences) == "".join(text.split())  # nothing lost, nothing added


# ---------------------------------------------------------------- Lead-N sentences


def test_lead_sentences_takes_the_first_n_on_one_line():
    doc = "First sentence here.\nSecond one,\nacross lines. Third."
    assert lead_sentences(doc, 1) == "First sentence here."
    assert lead_sentences(doc, 2) == "First sentence here. Second one, across lines."
    assert lead_sentences(doc, 9) == "First sentence here. Second one, across lines. Third."
    assert lead_sentences("no punctuation\tat all", 1) == "no punctuation at all"
    assert lead_sentences("", 1) == ""


def test_baseline_summaries_takes_exactly_one_kind():
    assert baseline_summaries(["One two. Three four.", "Five."], lead_sentences=1) == ["One two.", "Five."]
    for kinds in ({"lead": 1, "lead_sentences": 1}, {"lead_sentences": 1, "prefix": 5}, {}):
        with pytest.raises(SummaeError, match="exactly one"):
            baseline_summaries(["a"], **kinds)
    for bad in (0, -1, True, 1.5):
        with pytest.raises(SummaeError, match="lead_sentences must be an integer >= 1"):
            baseline_summaries(["a"], lead_sentences=bad)


def test_lead_1_sentence_on_the_bundled_test_set():
    """A Debian description opens with what the package is: its first sentence, never the whole text when
    there are several, and never longer than the document."""
    docs = [json.loads(line)["document"] for line in (BUNDLED_DIR / "test.jsonl").read_text("utf-8").splitlines()]
    leads = baseline_summaries(docs, lead_sentences=1)
    assert len(leads) == len(docs) and all(leads)
    assert all(len(lead.split()) <= len(doc.split()) for lead, doc in zip(leads, docs))
    assert sum(lead.split() == doc.split() for lead, doc in zip(leads, docs)) < len(docs) // 4


def test_a_wide_space_before_a_full_stop_does_not_crash_the_splitter():
    # sentencex 1.0.32's Rust core panicked on these (found by the property test above)
    for text in ("gg\u00a0!! g.U\u00a0.", "U\u00a0.", "g.U\u2003."):
        assert "".join("".join(s.split()) for s in split_sentences(text)) == "".join(text.split())
