"""summae.eval.bottleneck on hand-made texts."""

import pytest

from summae.eval.bottleneck import frequent_words, padded, reconstruction_rouge, word_order_score


def test_word_order_counts_pairs_in_document_order():
    doc = "the minister said on monday that taxes would rise"
    assert word_order_score(["minister said taxes rise"], [doc]) == 1.0
    assert word_order_score(["taxes minister said"], [doc]) == pytest.approx(1 / 2)  # (taxes, minister) is out
    # pairs with a word outside the document do not count; no pair at all scores 1.0
    assert word_order_score(["budget minister said"], [doc]) == 1.0
    assert word_order_score(["zebra"], [doc]) == 1.0


def test_word_order_uses_any_occurrence():
    doc = "rise of taxes and the rise of rents"
    assert word_order_score(["taxes rise"], [doc]) == 1.0  # "rise" also occurs after "taxes"
    assert word_order_score(["rents taxes"], [doc]) == 0.0


def test_padding_and_reconstruction_rouge():
    docs = ["the cat sat on the mat", "the dog ate the bone"]
    filler = frequent_words(docs, 3)
    assert filler[0] == "the"
    assert padded("cat mat", 6, ["the", "on"]) == "cat mat the on the on"
    scores = reconstruction_rouge(docs, ["cat mat", "dog bone"], docs, filler)
    assert scores["reconstruction_rouge1"] == 100.0
    assert scores["summary_rouge1"] < scores["padded_summary_rouge1"] < 100.0
