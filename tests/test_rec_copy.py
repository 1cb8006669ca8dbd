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
