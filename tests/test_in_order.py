"""summary.in_order: copied words keep the document's order, in every decoder and in the training forward."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
import torch

from conftest import tiny_model
from summae import fast
from summae.decode.rules import advance_floor, order_mask, order_start

PAD = 0
WORD_START = torch.tensor([False, True, True, True, True, False])  # 0 pad, 1-4 word starts, 5 a continuation


def test_the_floor_follows_the_leftmost_in_order_embedding():
    doc = torch.tensor([[1, 2, 5, 3, 2, 4, PAD]])  # positions 0..5, then pad
    floor = order_start(doc)
    assert floor.tolist() == [-1]
    floor = advance_floor(floor, torch.tensor([2]), doc)
    assert floor.tolist() == [1]  # the first 2
    floor = advance_floor(floor, torch.tensor([5]), doc)
    assert floor.tolist() == [2]  # its continuation
    floor = advance_floor(floor, torch.tensor([2]), doc)
    assert floor.tolist() == [4]  # the next 2 after the floor
    assert advance_floor(floor, torch.tensor([1]), doc).tolist() == [4]  # 1 lies behind: the floor stays


def test_the_mask_bans_words_the_document_holds_only_behind_the_floor():
    doc = torch.tensor([[1, 2, 5, 3, 2, 4, PAD]])
    mask = order_mask(torch.tensor([3]), doc, WORD_START, PAD)[0]  # after position 3: 2 and 4 remain ahead
    assert mask.tolist() == [False, True, False, True, False, False]  # 1 and 3 are behind; 5 is no word start
    assert not order_mask(order_start(doc), doc, WORD_START, PAD).any()  # nothing is behind the start


@pytest.fixture(scope="module")
def setup():
    _, _, model, doc, target, comp_ids, comp_mask = tiny_model(["summary.in_order=true", "train.rec_word_dropout=0"])
    return model, doc, target, comp_ids, comp_mask


def in_order(model, summary, doc) -> bool:
    """Every word-start token of the summary that the document holds lies after the floor when written."""
    floor = order_start(doc)
    for s in range(summary.shape[1]):
        banned = order_mask(floor, doc, model.word_start, model.vocab.pad_id)
        tokens = summary[:, s]
        if banned[torch.arange(len(tokens)), tokens].any():
            return False
        floor = advance_floor(floor, tokens, doc)
    return True


@pytest.mark.parametrize("how", ["greedy", "sampled", "beam"])
def test_every_decoder_writes_in_document_order(setup, how):
    model, doc, target, comp_ids, comp_mask = setup
    if how == "beam":
        summary = model.beam_summary(comp_ids, comp_mask, target, beams=3)
    else:
        summary = model.write_summary(comp_ids, comp_mask, target, temperature=1.0 if how == "sampled" else 0.0,
                                      generator=torch.Generator().manual_seed(0))
    assert in_order(model, summary, doc)
    with fast.reference_paths():  # the reference path writes the same
        again = model.write_summary(comp_ids, comp_mask, target, temperature=1.0 if how == "sampled" else 0.0,
                                    generator=torch.Generator().manual_seed(0)) if how != "beam" else summary
    assert torch.equal(again, summary)


def test_the_training_forward_scores_under_the_rules_the_summary_was_written_with(setup):
    model, doc, target, comp_ids, comp_mask = setup
    summary = model.write_summary(comp_ids, comp_mask, target, temperature=1.0,
                                  generator=torch.Generator().manual_seed(1))
    forbid = model.rules.sequence(summary, target, comp_ids)  # (B, S, V)
    written = forbid.gather(2, summary[..., None]).squeeze(-1)  # (B, S): was a written token forbidden?
    assert not (written & (summary != model.vocab.pad_id)).any()


def test_document_order_puts_the_words_where_the_document_has_them():
    from summae.decode.rules import document_order

    doc = "4pane is a dual twin-pane file manager: directories and files are displayed in separate panes."
    assert document_order("manager: file twin-pane dual 4pane", doc) == "4pane dual twin-pane file manager:"
    # case and surrounding punctuation do not matter; a word not in the document stays behind its predecessor
    assert document_order("Panes separate DIRECTORIES zzz files", doc) == "DIRECTORIES zzz files separate Panes"
    assert document_order("", doc) == ""
    assert document_order("files files", doc) == "files files"  # ties keep the written order


def test_document_order_places_repeated_words_at_their_own_occurrences():
    from summae.decode.rules import document_order

    doc = "The references are not guaranteed to be live at the time they are used."
    # "the" is its own word at "at the time", not the first "The" less case
    assert document_order("time the references The at", doc) == "The references at the time"
    # the second copy of a word takes its second occurrence
    assert document_order("are used are references", doc) == "references are are used"
    # a word found twice moves to the occurrence next to another summary word
    doc = "a b x c d x"
    assert document_order("x d", doc) == "d x"
    assert document_order("x a", doc) == "a x"  # no neighbour either way: the first occurrence


def test_document_order_reaches_the_written_summaries(tiny_run, tmp_path):
    from summae import Summarizer
    from summae.decode.rules import document_order

    docs = ["the quick brown fox jumps over the lazy dog near the river bank today and tomorrow",
            "a small tool for reading and writing files on old disks of many kinds"]
    plain = Summarizer.from_pretrained(tiny_run["dir"], device="cpu")
    ordered = Summarizer.from_pretrained(tiny_run["dir"], device="cpu")
    ordered.cfg.summary.document_order = True
    assert ordered(docs) == [document_order(s, d) for s, d in zip(plain(docs), docs)]


def test_a_summary_cut_inside_a_copied_word_loses_that_piece():
    from summae.decode.rules import drop_cut_word

    doc = "V.E.R.A. Virtual Entity of Relevant Acronyms, a free edition for 1-sided boards."
    assert drop_cut_word("V.E.R.A. Virtual Entity Relevant Acr", doc) == "V.E.R.A. Virtual Entity Relevant"
    assert drop_cut_word("free edition for 1-", doc) == "free edition for"
    # a whole document word stays, even where it begins a longer one ("a" of "Acronyms," is cased apart anyway)
    assert drop_cut_word("free edition for", doc) == "free edition for"
    assert drop_cut_word("Virtual Entity of", doc) == "Virtual Entity of"
    assert drop_cut_word("new words zqx", doc) == "new words zqx"  # not a piece of any document word: kept
    assert drop_cut_word("", doc) == ""
    assert drop_cut_word("Acr", doc) == "Acr"  # never an empty summary


@given(st.lists(st.sampled_from(["The", "the", "a", "cat,", "cat", "sat", "zzz", "mat."]), max_size=12),
       st.lists(st.sampled_from(["The", "the", "a", "cat,", "cat", "sat", "on", "mat."]), max_size=20))
@settings(max_examples=200, deadline=None)
def test_document_order_only_reorders_the_words(summary, document):
    from summae.decode.rules import document_order

    out = document_order(" ".join(summary), " ".join(document))
    assert sorted(out.split()) == sorted(summary)
    bare = [w.strip(".,").lower() for w in summary]
    if len(set(bare)) == len(bare) and set(bare) <= {w.strip(".,").lower() for w in document}:
        assert document_order(out, " ".join(document)) == out  # distinct words, all found: in order, unchanged
