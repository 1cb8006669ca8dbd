"""train.rl_weight: the self-critical policy gradient. The written summary's log-probability under the distribution
it was sampled from, and the term in a run (after pretraining only, with its advantage logged)."""

import json

import torch
from conftest import train_tiny as train

from summae.model.autoencoder import SummaeModel


def test_sequence_logp_sums_the_tempered_masked_log_softmax_over_kept_positions():
    gen = torch.Generator().manual_seed(0)
    scores = torch.randn(2, 3, 5, generator=gen)
    ids = torch.tensor([[1, 4, 0], [2, 2, 3]])
    forbid = torch.zeros(2, 3, 5, dtype=torch.bool)
    forbid[0, 0, 3] = True
    forbid[1, 1, 2] = True  # the written token itself: never masked
    keep = torch.tensor([[True, True, False], [True, True, True]])
    got = SummaeModel.sequence_logp(scores, ids, forbid, keep, 0.5)
    want = []
    for b in range(2):
        total = 0.0
        for s in range(3):
            if not keep[b, s]:
                continue
            row = scores[b, s] / 0.5
            allowed = ~forbid[b, s]
            allowed[ids[b, s]] = True
            total += (row[ids[b, s]] - torch.logsumexp(row[allowed], 0)).item()
        want.append(total)
    assert torch.allclose(got, torch.tensor(want), atol=1e-5)
    assert torch.isfinite(got).all()


def test_sequence_logp_carries_the_gradient_of_the_sampled_tokens():
    scores = torch.zeros(1, 2, 4, requires_grad=True)
    ids = torch.tensor([[1, 2]])
    none, every = torch.zeros(1, 2, 4, dtype=torch.bool), torch.ones(1, 2, dtype=torch.bool)
    logp = SummaeModel.sequence_logp(scores, ids, none, every, 1.0)
    logp.sum().backward()
    # d log softmax(x)_i / dx = onehot_i - softmax(x): raising the written token's score raises its probability
    assert scores.grad[0, 0, 1] > 0 and scores.grad[0, 1, 2] > 0 and scores.grad[0, 0, 0] < 0


def test_rl_weight_adds_the_policy_loss_after_pretraining_only(tmp_path):
    code, out, err = train(tmp_path / "run", "train.steps=4", "train.pretrain_steps=2", "train.log_every=1",
                           "train.rl_weight=1.0", "train.adv_weight=0", "train.pseudo=extract")
    assert code == 0, err
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    later = [r for r in rows if "loss/rl" in r]
    assert len(later) == 2 and all(r["step"] > 2 for r in later)
    assert all(0 <= r["rl/sample_wins"] <= 1 and r["rl/greedy_nats"] > 0 for r in later)
    assert all("loss/rl" not in r for r in rows if r.get("step", 0) <= 2)


def test_rl_weight_without_the_search_is_a_one_line_error(tmp_path):
    code, out, err = train(tmp_path / "run", "train.steps=2", "train.rl_weight=1", "train.pseudo=lead")
    assert code != 0 and "train.rl_weight needs train.pseudo=extract" in err and "Traceback" not in err
    code, out, err = train(tmp_path / "run2", "train.steps=2", "train.rl_weight=-1")
    assert code != 0 and "train.rl_weight must be >= 0" in err and "Traceback" not in err


def test_token_f1_counts_clipped_matches_and_skips_padding_and_eos():
    from summae.train.criterion import token_f1

    ids = torch.tensor([[5, 5, 6, 2, 0], [7, 2, 0, 0, 0], [2, 0, 0, 0, 0]])
    ref = torch.tensor([[5, 6, 6, 8, 2], [9, 2, 0, 0, 0], [5, 2, 0, 0, 0]])
    got = token_f1(ids, ref, skip=(0, 2), vocab=10)
    # row 0: {5: 2, 6: 1} against {5: 1, 6: 2, 8: 1}: 2 clipped matches, F1 = 2 * 2 / (3 + 4)
    assert torch.allclose(got, torch.tensor([4 / 7, 0.0, 0.0]))
    assert token_f1(ref, ref, skip=(0, 2), vocab=10)[:2].tolist() == [1.0, 1.0]


def test_rl_teacher_weight_adds_agreement_to_the_reward_and_needs_the_reward(tmp_path):
    code, out, err = train(tmp_path / "run", "train.steps=3", "train.pretrain_steps=2", "train.log_every=1",
                           "train.rl_weight=1.0", "train.rl_teacher_weight=2.0", "train.adv_weight=0",
                           "train.pseudo=extract")
    assert code == 0, err
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    later = [r for r in rows if "rl/teacher_f1" in r]
    assert len(later) == 1 and later[0]["step"] == 3 and 0 <= later[0]["rl/teacher_f1"] <= 1
    code, out, err = train(tmp_path / "run2", "train.steps=2", "train.rl_teacher_weight=1")
    assert code != 0 and "train.rl_teacher_weight (1.0) weights a part of train.rl_weight's reward" in err
    assert "Traceback" not in err
