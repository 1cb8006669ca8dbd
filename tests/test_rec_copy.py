"""model.rec_copy: the reconstructor's pointer over the summary. It trains, saves, loads and decodes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from summae import fast
from summae.config import load_config
from summae.model.build import build_models, load_for_inference
from summae.tokenization import encode_texts, pad_ids, train_sentencepiece

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def setup():
    with open(REPO / "summae" / "data" / "debian" / "train.jsonl", encoding="utf-8") as handle:
        docs = [json.loads(line)["document"] for _, line in zip(range(300), handle)]
    cfg = load_config("tiny", ["model.rec_copy=true", "train.rec_word_dropout=0"])
    tokenizer = train_sentencepiece(docs, vocab_size=cfg.tokenizer.vocab_size, max_words=cfg.summary.max_words)
    torch.manual_seed(0)
    model, _, vocab = build_models(cfg, tokenizer)
    ids, _ = encode_texts(tokenizer, docs[:12], cfg.model.max_source_tokens - 1)
    doc = pad_ids(ids, eos_id=vocab.eos_id, pad_id=vocab.pad_id, width=cfg.model.max_source_tokens)
    target = torch.arange(12) % cfg.summary.max_words + 1
    comp_ids, comp_mask = model.compressor_inputs(doc, doc != vocab.pad_id, target)
    return cfg, tokenizer, model.eval(), doc, target, comp_ids, comp_mask


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
