"""Every fast path in summae.fast equals its reference path: the same summaries, the same losses and gradients
(to float tolerance where the arithmetic is reordered). The reference runs under summae.fast.reference_paths()."""

from __future__ import annotations

import pytest
import torch

from conftest import tiny_model
from summae import fast
from summae.decode.rules import apply_mask, argmax
from summae.model.bottleneck import soft_embed, straight_through


@pytest.fixture(scope="module", params=[True, False], ids=["copy", "nocopy"])
def setup(request):
    _, _, model, doc, target, comp_ids, comp_mask = tiny_model(
        ["train.rec_word_dropout=0", f"model.copy={request.param}"], n_docs=16)
    return model, doc, target, comp_ids, comp_mask


def both(fn):
    """fn() with the fast paths, then with the reference paths."""
    quick = fn()
    with fast.reference_paths():
        assert not fast.enabled()
        slow = fn()
    assert fast.enabled()
    return quick, slow


def test_reference_paths_is_a_scoped_switch():
    assert fast.enabled()
    with pytest.raises(RuntimeError):
        with fast.reference_paths():
            raise RuntimeError("boom")
    assert fast.enabled()  # restored after an error too


@pytest.mark.parametrize("temperature", [0.0, 0.8])
def test_written_summaries_are_the_same(setup, temperature):
    """Static KV cache + spelling without the (B, V) mask + CPU masked fill and argmax, against transformers'
    incremental decoding and the plain masked choice: the same tokens, sampled draws included."""
    model, _, target, comp_ids, comp_mask = setup

    def write():
        gen = torch.Generator().manual_seed(3)
        return model.write_summary(comp_ids, comp_mask, target, temperature=temperature, generator=gen)

    quick, slow = both(write)
    assert torch.equal(quick, slow)
    assert (quick != model.vocab.pad_id).any()


def test_beam_search_is_the_same(setup):
    model, _, target, comp_ids, comp_mask = setup
    quick, slow = both(lambda: model.beam_summary(comp_ids, comp_mask, target, beams=3))
    assert torch.equal(quick, slow)


@pytest.mark.parametrize("phase", ["pretrain", "autoencode"])
def test_training_losses_and_gradients_are_the_same(setup, phase):
    """cross_projections_once, the labelled-positions head, StraightThrough and HardEmbed, against the plain
    BART forward, token_nll over all logits, y_hard - y_soft.detach() + y_soft and one_hot @ E."""
    model, doc, target, comp_ids, comp_mask = setup
    pseudo = model.write_summary(comp_ids, comp_mask, target)  # any hard (B, S) sequences will do

    def losses():
        model.zero_grad(set_to_none=True)
        inputs = dict(comp_ids=comp_ids, comp_mask=comp_mask, doc_labels=doc, pseudo_ids=pseudo)
        if phase == "autoencode":
            inputs.update(target=target, temperature=0.0)
        out = model(phase, **inputs)  # eval mode: no dropout, so both runs see the same network
        total = sum(out.losses.values())
        total.backward()
        grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
        return {k: v.detach() for k, v in out.losses.items()}, grads, out.summary_one_hot.detach()

    (l_fast, g_fast, oh_fast), (l_ref, g_ref, oh_ref) = both(losses)
    assert l_fast.keys() == l_ref.keys()
    for k in l_fast:
        torch.testing.assert_close(l_fast[k], l_ref[k], rtol=1e-5, atol=1e-5)
    assert torch.equal(oh_fast, oh_ref)  # the bottleneck's forward value: the summary itself
    assert g_fast.keys() == g_ref.keys()
    for name in g_fast:
        torch.testing.assert_close(g_fast[name], g_ref[name], rtol=1e-4, atol=1e-5, msg=name)
    model.zero_grad(set_to_none=True)


def test_straight_through_and_soft_embed_equal_their_references():
    torch.manual_seed(0)
    logits = torch.randn(3, 5, 64, requires_grad=True)
    ids = torch.randint(0, 64, (3, 5))
    forbid = torch.rand(3, 5, 64) < 0.3
    forbid[torch.arange(3)[:, None], torch.arange(5)[None, :], ids] = False  # the chosen token is allowed
    keep = torch.rand(3, 5) < 0.8
    weight = torch.randn(64, 8, requires_grad=True)
    upstream = torch.randn(3, 5, 8)

    def run():
        logits.grad = weight.grad = None
        one_hot = straight_through(logits, ids, 0.7, forbid=forbid, keep=keep)  # (B, S, V)
        embedded = soft_embed(one_hot, weight, torch.where(keep, ids, -1))  # (B, S, D)
        (embedded * upstream).sum().backward()
        return one_hot.detach(), embedded.detach(), logits.grad.clone(), weight.grad.clone()

    quick, slow = both(run)
    assert torch.equal(quick[0], slow[0])
    for a, b in zip(quick[1:], slow[1:]):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_cpu_masked_fill_and_argmax_equal_torch():
    torch.manual_seed(1)
    scores = torch.randn(7, 128)
    scores[:, 5] = scores[:, 70]  # ties go to the lower index on both paths
    forbid = torch.rand(7, 128) < 0.5
    quick, slow = both(lambda: (apply_mask(scores, forbid), argmax(apply_mask(scores, forbid))))
    assert torch.equal(quick[0], slow[0]) and torch.equal(quick[1], slow[1])
