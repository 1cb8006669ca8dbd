"""model.rec_copy: the reconstructor's pointer over the summary. It trains, saves, loads and decodes."""

from __future__ import annotations

import pytest
import torch

from conftest import tiny_model
from summae import fast
from summae.model.build import load_for_inference


@pytest.fixture(scope="module")
def setup():
    return tiny_model(["model.rec_copy=true", "train.rec_word_dropout=0"], n_docs=12)


def test_the_copy_head_learns_with_the_reconstructor_and_reaches_the_compressor(setup):
    _, _, model, doc, target, comp_ids, comp_mask = setup
    model.zero_grad(set_to_none=True)
    out = model("autoencode", comp_ids=comp_ids, comp_mask=comp_mask, doc_labels=doc, target=target, temperature=0.0)
    out.losses["rec"].backward()
    assert torch.isfinite(out.losses["rec"])
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.rec_copy_head.parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.compressor.parameters())
    model.zero_grad(set_to_none=True)


def test_copying_makes_the_summarys_words_likely(setup):
    """The mixture puts mass on the summary's tokens: a document token that the summary holds gets at least the
    copy share its attention gives it, so the NLL given the true summary beats the NLL given a shuffled one."""
    _, _, model, doc, target, comp_ids, comp_mask = setup
    summary = model.write_summary(comp_ids, comp_mask, target)
    own = model.reconstruction_nll(summary, doc)
    other = model.reconstruction_nll(summary.roll(1, dims=0), doc)
    assert torch.isfinite(own).all() and own.mean() < other.mean()


def test_saved_and_loaded_the_same(setup, tmp_path):
    cfg, tokenizer, model, doc, target, comp_ids, comp_mask = setup
    cfg.to_yaml(tmp_path / "config.yaml")
    model.save(tmp_path, tokenizer)
    (tmp_path / "trainer_state.json").write_text("{}")
    assert (tmp_path / "reconstructor" / "copy_head.safetensors").is_file()
    _, _, loaded = load_for_inference(tmp_path, with_reconstructor=True)
    summary = model.write_summary(comp_ids, comp_mask, target)
    torch.testing.assert_close(loaded.reconstruction_nll(summary, doc), model.reconstruction_nll(summary, doc))
    rebuilt = loaded.reconstruct_greedy(summary, max_tokens=doc.shape[1])
    assert torch.equal(rebuilt, model.reconstruct_greedy(summary, max_tokens=doc.shape[1]))
    with fast.reference_paths():
        assert torch.equal(rebuilt, model.reconstruct_greedy(summary, max_tokens=doc.shape[1]))


def test_the_no_repeat_rule_never_writes_an_ngram_twice(setup):
    """reconstruct_greedy(no_repeat_ngram=n): no row holds the same n tokens twice (up to its EOS); plain argmax
    is unchanged by the option's default; the rule by hand on a fixed score table."""
    from summae.decode.greedy import NoRepeatPick

    _, _, model, doc, target, comp_ids, comp_mask = setup
    summary = model.write_summary(comp_ids, comp_mask, target)
    plain = model.reconstruct_greedy(summary, max_tokens=doc.shape[1])
    assert torch.equal(plain, model.reconstruct_greedy(summary, max_tokens=doc.shape[1], no_repeat_ngram=0))
    rebuilt = model.reconstruct_greedy(summary, max_tokens=doc.shape[1], no_repeat_ngram=2)
    for row in rebuilt.tolist():
        row = row[:row.index(model.vocab.eos_id)] if model.vocab.eos_id in row else row
        pairs = [tuple(row[i:i + 2]) for i in range(len(row) - 1)]
        assert len(pairs) == len(set(pairs))
    pick = NoRepeatPick(3)
    for a, b in ((5, 5), (6, 6), (7, 7), (5, 5), (6, 5)):  # row 0 writes 5 6 7 5 6; row 1 writes 5 6 7 5 5
        scores = torch.zeros(2, 10)
        scores[0, a], scores[1, b] = 1, 1
        assert pick(scores, 0).tolist() == [a, b]
    scores = torch.zeros(2, 10)
    scores[:, 7], scores[:, 8] = 2, 1
    assert pick(scores, 0).tolist() == [8, 7]  # row 0 wrote 5 6 7: after 5 6, 7 is banned; row 1 ends 5 5: free


def test_min_tokens_keeps_each_row_from_ending_before_its_length(setup):
    """reconstruct_greedy(min_tokens=...): no EOS in a row before its own minimum (the document's length in
    autoencoder_report's document_length); the pick by hand on a score table that prefers EOS."""
    from summae.decode.greedy import MinLengthPick

    _, _, model, doc, target, comp_ids, comp_mask = setup
    eos = model.vocab.eos_id
    summary = model.write_summary(comp_ids, comp_mask, target)
    wanted = torch.arange(summary.shape[0]) % 3 + doc.shape[1] - 3  # (B,) minimums near the width
    rebuilt = model.reconstruct_greedy(summary, max_tokens=doc.shape[1], min_tokens=wanted)
    for row, least in zip(rebuilt.tolist(), wanted.tolist()):
        assert eos not in row[:least]
    pick = MinLengthPick(lambda scores, step: scores.argmax(-1), torch.tensor([2, 0]), eos)
    scores = torch.zeros(2, max(eos + 2, 10))
    scores[:, eos], scores[:, eos + 1] = 2, 1
    assert pick(scores, 1).tolist() == [eos + 1, eos]  # row 0 must write on until 2 tokens; row 1 may end
    assert pick(scores, 2).tolist() == [eos, eos]
