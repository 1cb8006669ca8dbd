"""Readability measures: shares on hand-made summaries, and a trigram LM whose probabilities sum to one and
which prefers headline word order to shuffled words."""

import math
import random

import pytest

from summae.eval.readability import TrigramLM, novel_share, readability, repeated_share, words

HEADLINES = [
    "police arrest man after bank robbery", "stocks fall as oil prices rise", "police arrest two after shooting",
    "oil prices rise on supply fears", "government wins vote on budget", "stocks rise as bank shares gain",
    "man arrested after police chase", "budget vote delayed by government",
] * 5


def test_words_lowercases_and_splits_punctuation():
    assert words("U.S. stocks Fall, again!") == ["u", ".", "s", ".", "stocks", "fall", ",", "again", "!"]
    assert words("don't stop") == ["don't", "stop"]


def test_repeated_share_counts_summaries_with_a_repeated_word():
    assert repeated_share(["a b c", "a b a", "x x", ""]) == pytest.approx(2 / 3)  # the empty one is not counted
    assert repeated_share(["stocks fall , fall ."]) == 1.0
    assert repeated_share(["stocks fall , again ."]) == 0.0  # punctuation repeats do not count


def test_novel_share_pools_summary_words_not_in_their_document():
    docs = ["the cat sat on the mat", "dogs bark loudly at night"]
    assert novel_share(["cat sat", "dogs bark"], docs) == 0.0
    assert novel_share(["cat ran", "birds bark"], docs) == pytest.approx(2 / 4)
    with pytest.raises(ValueError):
        novel_share(["one"], docs)  # summaries and documents must pair up


@pytest.fixture(scope="module")
def lm():
    return TrigramLM(HEADLINES)


@pytest.mark.parametrize("context", [("<s>", "<s>"), ("police", "arrest"), ("never", "seen"), ("<s>", "oil")])
def test_probabilities_of_a_context_sum_to_one(lm, context):
    total = sum(lm._p3(*context, w) for w in lm.vocab)
    assert total == pytest.approx(1.0, abs=1e-9)


def test_headline_word_order_is_more_likely_than_shuffled_words(lm):
    texts = ["police arrest man after shooting", "oil prices rise as stocks fall"]
    shuffled = [" ".join(random.Random(0).sample(t.split(), len(t.split()))) for t in texts]
    assert lm.perplexity(texts) < lm.perplexity(shuffled)


def test_rare_words_become_unknown_and_keep_a_finite_probability(lm):
    lp, n = lm.log_prob("zebra escapes zoo")
    assert n == 4 and math.isfinite(lp)
    assert lm.perplexity(["", "  "]) == 1.0  # nothing to score


def test_readability_rounds_the_three_measures(lm):
    out = readability(["police arrest man", "oil oil prices"], ["police arrest a man", "prices of oil"], lm)
    assert set(out) == {"lm_ppl", "repeated", "novel"}
    assert out["repeated"] == 0.5 and out["novel"] == 0.0 and out["lm_ppl"] > 1
