"""Pseudo-summaries by search (summae.train.pseudo): word hashing, a bigram LM whose probabilities sum to one, a
dynamic program that finds the same extraction as brute force, and pieces that come out in document order."""

import itertools
import math

import pytest
import torch

from summae.train.pseudo import lead_targets
from summae.train.pseudo import Extractor, word_keys

PAD, EOS = 0, 1
WORD_START = torch.tensor([False, False] + [True] * 10 + [False] * 4)  # pieces 2..11 start words, 12..15 continue


def matrix(rows, width):
    out = torch.full((len(rows), width), PAD)
    for i, row in enumerate(rows):
        out[i, : len(row) + 1] = torch.tensor(row + [EOS])
    return out


# a tiny "headline corpus" and "documents": words are 2..11, some with continuation pieces
REAL = matrix([[2, 3, 4], [2, 3, 5], [6, 3, 4, 12], [2, 7], [8, 3, 4], [2, 3, 4, 9]], 8)
DOCS = matrix([[2, 12, 3, 4, 5, 6, 7, 8, 9], [10, 11, 2, 3, 13, 4], [2, 3, 4, 5, 6, 7, 8, 9, 10, 11], [5, 6]], 12)


@pytest.fixture(scope="module")
def extractor():
    return Extractor(REAL, DOCS, word_start=WORD_START, pad_id=PAD, eos_id=EOS, alpha=0.7, beta=0.1)


def test_a_word_is_its_pieces_wherever_it_stands():
    ids = matrix([[2, 12, 3, 4], [3, 2, 12, 4]], 6)
    keys, ok = word_keys(ids, WORD_START, (ids != PAD) & (ids != EOS))
    assert ok.sum(1).tolist() == [3, 3]  # three words per row, in the first columns
    assert keys[0, 0] == keys[1, 1]  # "2 12" is one word in both rows
    assert keys[0, 1] == keys[1, 0] and keys[0, 2] == keys[1, 2]
    assert len({int(k) for k in keys[ok]}) == 3
    assert keys[0, 0] != word_keys(matrix([[2, 13]], 4), WORD_START, torch.ones(1, 4, dtype=torch.bool))[0][0, 0]


def test_bigram_probabilities_sum_to_one(extractor):
    everything = torch.arange(extractor.v)
    for prev in [extractor.bos, 0, extractor.v - 1]:
        total = extractor.log_prob(torch.full_like(everything, prev), everything).exp().sum()
        assert float(total) == pytest.approx(1.0, abs=1e-5)


def test_seen_headline_bigrams_beat_unseen_ones(extractor):
    keys, ok = word_keys(REAL[:1], WORD_START, (REAL[:1] != PAD) & (REAL[:1] != EOS))
    w2, w3 = extractor.lookup(keys[0, :2])
    assert extractor.log_prob(w2[None], w3[None]) > extractor.log_prob(w3[None], w2[None])


def brute_force(ex, wid, n, k):
    """Best score over every ordered choice of k of the first n words."""
    def score(sel):
        words = [ex.bos] + [int(wid[i]) for i in sel] + [ex.eos]
        lm = sum(float(ex.log_prob(torch.tensor([a]), torch.tensor([b]))) for a, b in zip(words, words[1:]))
        return lm + sum(ex.alpha * float(ex.idf[wid[i]]) - ex.beta * i for i in sel)
    return max((score(sel), sel) for sel in itertools.combinations(range(n), k))


@pytest.mark.parametrize("k", [1, 2, 3, 5])
def test_dynamic_program_finds_the_brute_force_optimum(extractor, k):
    ids = DOCS[2:3]
    keys, ok = word_keys(ids, WORD_START, (ids != PAD) & (ids != EOS))
    wid = torch.where(ok, extractor.lookup(keys), torch.full_like(keys, extractor.eos))
    chosen = extractor.select(wid, ok, torch.tensor([k]))
    best_score, best_sel = brute_force(extractor, wid[0], int(ok.sum()), k)
    assert chosen[0].nonzero().flatten().tolist() == list(best_sel)
    assert math.isfinite(best_score)


def test_several_settings_in_one_search_give_each_settings_own_extraction():
    settings = [(0.0, 0.0), (0.7, 0.1), (3.0, 0.0), (0.5, 2.0)]
    together = Extractor(REAL, DOCS, word_start=WORD_START, pad_id=PAD, eos_id=EOS, alpha=1.0, beta=0.0)
    target = torch.tensor([3, 2, 4, 5])
    outs = together.targets_at(DOCS, target, settings, max_tokens=8)
    assert (together.alpha, together.beta) == (1.0, 0.0)  # the extractor's own weights are left alone
    for (a, b), out in zip(settings, outs):
        alone = Extractor(REAL, DOCS, word_start=WORD_START, pad_id=PAD, eos_id=EOS, alpha=a, beta=b)
        assert torch.equal(out, alone.targets(DOCS, target, max_tokens=8))
    assert len({tuple(out.flatten().tolist()) for out in outs}) > 1  # the settings do pick different words


def test_short_documents_give_all_their_words(extractor):
    out = extractor.targets(DOCS[3:4], torch.tensor([5]), max_tokens=6)
    assert out[0].tolist() == [5, 6, EOS, PAD, PAD, PAD]


def test_targets_keep_whole_words_in_document_order(extractor):
    out = extractor.targets(DOCS, torch.tensor([3, 2, 4, 1]), max_tokens=8)
    for row, doc in zip(out.tolist(), DOCS.tolist()):
        pieces = row[: row.index(EOS)]
        positions = [doc.index(p) for p in pieces]
        assert positions == sorted(positions)  # a subsequence of the document
        assert all(not WORD_START[p] for p in pieces if p in (12, 13))  # continuation pieces follow their word
    assert [sum(WORD_START[p] for p in row if p > EOS) for row in out.tolist()] == [3, 2, 4, 1]


def test_a_strong_position_penalty_gives_back_the_lead():
    ex = Extractor(REAL, DOCS, word_start=WORD_START, pad_id=PAD, eos_id=EOS, alpha=0.0, beta=100.0)
    target = torch.tensor([3, 2, 4, 1])
    lead = lead_targets(DOCS, target, word_start=WORD_START, max_tokens=8, eos_id=EOS, pad_id=PAD)
    assert torch.equal(ex.targets(DOCS, target, max_tokens=8), lead)


def test_the_cap_on_summary_tokens_leaves_room_for_eos(extractor):
    out = extractor.targets(DOCS[2:3], torch.tensor([8]), max_tokens=4)
    assert out[0, 3] == EOS and (out[0, :3] > EOS).all()


def test_a_cut_summary_ends_with_a_whole_word():
    from summae.train.pseudo import whole_word_length
    ids = torch.tensor([[2, 12, 3, 13, 4, EOS], [2, 3, 4, EOS, PAD, PAD], [2, 12, 13, 3, EOS, PAD]])
    n = torch.tensor([5, 3, 4])
    # room for 4 tokens: "2 12 | 3 13 | 4" keeps two words, not "2 12 3 13"'s first three pieces plus half a word
    assert whole_word_length(ids, n, 4, WORD_START).tolist() == [4, 3, 4]
    assert whole_word_length(ids, n, 3, WORD_START).tolist() == [2, 3, 3]
    assert whole_word_length(ids, n, 2, WORD_START).tolist() == [2, 2, 2]  # a first word longer than the cap: cut
    assert whole_word_length(ids, n, 9, WORD_START).tolist() == [5, 3, 4]  # everything fits


def test_lead_and_extraction_drop_the_word_the_cap_would_split(extractor):
    lead = lead_targets(DOCS[1:2], torch.tensor([4]), word_start=WORD_START, max_tokens=5, eos_id=EOS, pad_id=PAD)
    assert lead[0].tolist() == [10, 11, 2, EOS, PAD]  # the fourth word "3 13" would not fit whole
    out = extractor.targets(DOCS, torch.tensor([4, 4, 4, 2]), max_tokens=4)
    for row, doc_row in zip(out.tolist(), DOCS.tolist()):
        pieces = row[: row.index(EOS)]
        assert pieces and WORD_START[pieces[0]]
        end = doc_row.index(pieces[-1])  # the pieces of these documents occur once each
        assert WORD_START[doc_row[end + 1]] or doc_row[end + 1] == EOS  # ends where a document word ends
