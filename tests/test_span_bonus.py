"""summary.span_bonus: greedy decoding favours the word that follows, in the document, the word just written."""

from __future__ import annotations

import pytest
import torch

from conftest import tiny_model
from summae import fast
from summae.decode.rules import advance_word, empty_ends, span_followers, with_span_bonus

PAD = 0
WORD_START = torch.tensor([False, True, True, True, True, False])  # 0 pad, 1-4 word starts, 5 a continuation
BOUNDARY = WORD_START.clone()


def test_the_followers_are_the_words_after_the_last_written_word_in_the_document():
    doc = torch.tensor([[1, 2, 5, 3, 2, 4, PAD]])  # words: 1 | 2 5 | 3 | 2 | 4
    ends = advance_word(empty_ends(doc), torch.tensor([2]), doc, BOUNDARY, PAD)  # "2" written, not yet complete
    # the first 2 continues with 5 (no word start: the spelling rule's business); the second is followed by 4
    assert span_followers(ends, doc, WORD_START)[0].tolist() == [False, False, False, False, True, False]
    ends = advance_word(ends, torch.tensor([5]), doc, BOUNDARY, PAD)  # "2 5" complete: 3 follows
    assert span_followers(ends, doc, WORD_START)[0].tolist() == [False, False, False, True, False, False]
    assert not span_followers(empty_ends(doc), doc, WORD_START).any()  # nothing written: nothing follows


def test_the_bonus_is_the_same_on_probabilities_and_on_log_probabilities():
    probs = torch.tensor([[0.1, 0.5, 0.3, 0.1]])
    followers = torch.tensor([[False, False, True, False]])
    logp = with_span_bonus(probs.log(), followers, 1.0, probabilities=False)
    scaled = with_span_bonus(probs, followers, 1.0, probabilities=True)
    assert torch.allclose(scaled.log(), logp)
    assert scaled.argmax(-1).item() == 2  # 0.3 * e > 0.5
    assert with_span_bonus(probs, followers, 0.0, probabilities=True).argmax(-1).item() == 1


def contiguous_pairs(summary: torch.Tensor, doc: torch.Tensor, word_start: torch.Tensor) -> int:
    """Consecutive word-start tokens of the summaries that also stand side by side in the document."""
    count = 0
    for s, d in zip(summary.tolist(), doc.tolist()):
        starts = [t for t in s if word_start[t]]
        pairs = set(zip(d, d[1:]))
        count += sum((a, b) in pairs for a, b in zip(starts, starts[1:]))
    return count


@pytest.fixture(scope="module")
def setup():
    _, _, model, doc, target, comp_ids, comp_mask = tiny_model(["train.rec_word_dropout=0"])
    return model, doc, target, comp_ids, comp_mask


def test_a_large_bonus_copies_the_documents_phrases_and_both_paths_agree(setup):
    model, doc, target, comp_ids, comp_mask = setup
    model.rules.span_bonus = 0.0
    plain = model.write_summary(comp_ids, comp_mask, target)
    try:
        model.rules.span_bonus = 20.0
        spans = model.write_summary(comp_ids, comp_mask, target)
        with fast.reference_paths():  # the reference path (logits, not probabilities) writes the same
            assert torch.equal(model.write_summary(comp_ids, comp_mask, target), spans)
        # training samples never get it: the same sample with and without the bonus
        sample = model.write_summary(comp_ids, comp_mask, target, temperature=1.0,
                                     generator=torch.Generator().manual_seed(0))
    finally:
        model.rules.span_bonus = 0.0
    assert torch.equal(sample, model.write_summary(comp_ids, comp_mask, target, temperature=1.0,
                                                   generator=torch.Generator().manual_seed(0)))
    assert contiguous_pairs(spans, doc, model.word_start) > contiguous_pairs(plain, doc, model.word_start)


def test_the_setting_is_checked():
    from summae.config import Config
    from summae.errors import SummaeError

    with pytest.raises(SummaeError, match="summary.span_bonus"):
        Config.from_dict({"summary": {"span_bonus": -1}}).validated()
