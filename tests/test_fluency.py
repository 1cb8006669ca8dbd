"""summae.train.fluency: the bigram prior's probabilities, its value on hard summaries, its straight-through
gradient against the explicit bilinear form, and train.lm_weight in a run."""

import json

import pytest
import torch
from conftest import train_tiny as train

from summae.model.bottleneck import straight_through
from summae.train.fluency import MAX_VOCAB, BigramPrior

EOS, V = 0, 7
TEXTS = [[1, 2, 3], [1, 2, 4], [5, 2, 3], [1, 2]]


def test_every_context_is_a_distribution_and_seen_pairs_beat_unseen_ones():
    prior = BigramPrior(TEXTS, vocab_size=V, eos_id=EOS)
    assert torch.allclose(prior.log_probs.exp().sum(1), torch.ones(V), atol=1e-5)
    assert prior.log_probs[1, 2] > prior.log_probs[1, 3]  # "1 2" seen three times, "1 3" never
    assert prior.log_probs[EOS, 1] > prior.log_probs[EOS, 2]  # texts start with 1, never with 2


def test_the_value_is_the_mean_nats_of_the_bigrams_of_each_summary_eos_included():
    prior = BigramPrior(TEXTS, vocab_size=V, eos_id=EOS)
    ids = torch.tensor([[1, 2, 3, EOS, 6], [5, 2, EOS, 6, 6]])  # 6: padding after EOS
    mask = torch.tensor([[True, True, True, True, False], [True, True, True, False, False]])
    one_hot = torch.nn.functional.one_hot(ids, V).float() * mask[..., None]
    lp = prior.log_probs
    terms = [lp[EOS, 1], lp[1, 2], lp[2, 3], lp[3, EOS], lp[EOS, 5], lp[5, 2], lp[2, EOS]]
    assert prior(one_hot, ids, mask).item() == pytest.approx(-sum(t.item() for t in terms) / 7, rel=1e-5)
    fluent = prior(one_hot, ids, mask)
    shuffled = torch.tensor([[3, 1, 2, EOS, 6], [2, 5, EOS, 6, 6]])
    assert prior(torch.nn.functional.one_hot(shuffled, V).float() * mask[..., None], shuffled, mask) > fluent


def test_the_straight_through_gradient_is_the_bilinear_forms():
    torch.manual_seed(0)
    prior = BigramPrior(TEXTS, vocab_size=V, eos_id=EOS)
    ids = torch.tensor([[1, 2, 3, EOS], [5, 4, EOS, 6]])
    mask = torch.tensor([[True, True, True, True], [True, True, True, False]])
    logits = torch.randn(2, 4, V, requires_grad=True)
    prior(straight_through(logits, ids, 1.0, keep=mask), ids, mask).backward()
    ours = logits.grad.clone()
    logits.grad = None
    # the same loss written as sum_t y_{t-1}^T L y_t over straight-through one-hots, start = EOS
    y = straight_through(logits, ids, 1.0, keep=mask)  # (B, S, V)
    start = torch.nn.functional.one_hot(torch.full((2, 1), EOS), V).float()
    prev = torch.cat([start, y[:, :-1]], dim=1)
    bilinear = torch.einsum("bsv,vw,bsw->bs", prev, prior.log_probs, y)
    (-(bilinear * mask).sum() / mask.sum()).backward()
    assert torch.allclose(ours, logits.grad, atol=1e-6)


def test_a_vocabulary_too_large_for_the_dense_table_is_refused():
    with pytest.raises(ValueError, match="at most"):
        BigramPrior(TEXTS, vocab_size=MAX_VOCAB + 1, eos_id=EOS)


def test_lm_weight_adds_the_prior_after_pretraining_only(tmp_path):
    code, out, err = train(tmp_path / "run", "train.steps=4", "train.pretrain_steps=2", "train.log_every=1",
                           "train.lm_weight=0.5", "train.adv_weight=0")
    assert code == 0, err
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    lm = [r["loss/lm"] for r in rows if "loss/lm" in r]
    assert len(lm) == 2 and all(x > 0 for x in lm)
    assert all("loss/lm" not in r for r in rows if r.get("step", 0) <= 2)


def test_lm_weight_without_real_texts_is_a_one_line_error(tmp_path):
    code, out, err = train(tmp_path / "run", "train.steps=2", "train.lm_weight=0.5", "data.real_files=[]")
    assert code != 0 and "train.lm_weight needs real short texts" in err and "Traceback" not in err
