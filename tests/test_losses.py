"""summae.model.losses on hand-made logits, checked against values computed by hand."""

import math

import pytest
import torch

from summae.model.losses import accuracy, discriminator_loss, generator_adv_loss, token_nll, token_nll_per_sequence

PAD = 0


def log_softmax(row, i):
    return row[i] - math.log(sum(math.exp(x) for x in row))


LOGITS = [[[0.0, 1.0, 2.0], [3.0, 0.0, 0.0], [5.0, 5.0, 5.0]],  # sequence 0: labels 2, 1, pad
          [[1.0, 1.0, 1.0], [0.0, 0.0, 4.0], [0.0, 2.0, 0.0]]]  # sequence 1: labels 1, 2, 1
LABELS = [[2, 1, PAD], [1, 2, 1]]


def test_token_nll_is_the_mean_over_non_pad_labels():
    by_hand = [-log_softmax(LOGITS[0][0], 2), -log_softmax(LOGITS[0][1], 1),
               -log_softmax(LOGITS[1][0], 1), -log_softmax(LOGITS[1][1], 2), -log_softmax(LOGITS[1][2], 1)]
    got = token_nll(torch.tensor(LOGITS), torch.tensor(LABELS), PAD)
    assert got.dim() == 0
    assert got.item() == pytest.approx(sum(by_hand) / 5, rel=1e-6)


def test_token_nll_of_a_sure_correct_prediction_is_zero():
    logits = torch.full((1, 2, 3), -1e4)
    logits[0, 0, 1] = logits[0, 1, 2] = 1e4
    assert token_nll(logits, torch.tensor([[1, 2]]), PAD).item() == pytest.approx(0.0, abs=1e-6)


def test_token_nll_per_sequence_averages_each_sequence_over_its_own_tokens():
    seq0 = (-log_softmax(LOGITS[0][0], 2) - log_softmax(LOGITS[0][1], 1)) / 2
    seq1 = (-log_softmax(LOGITS[1][0], 1) - log_softmax(LOGITS[1][1], 2) - log_softmax(LOGITS[1][2], 1)) / 3
    got = token_nll_per_sequence(torch.tensor(LOGITS), torch.tensor(LABELS), PAD)
    assert got.shape == (2,)
    assert got.tolist() == pytest.approx([seq0, seq1], rel=1e-6)


def test_token_nll_per_sequence_of_an_all_pad_row_is_zero_not_nan():
    got = token_nll_per_sequence(torch.zeros(1, 2, 3), torch.tensor([[PAD, PAD]]), PAD)
    assert got.tolist() == [0.0]


def sigmoid(x):
    return 1 / (1 + math.exp(-x))


def test_discriminator_loss_is_bce_with_real_one_and_fake_zero():
    real, fake = [2.0, -1.0], [0.5, -3.0]
    by_hand = (-sum(math.log(sigmoid(x)) for x in real) / 2) + (-sum(math.log(1 - sigmoid(x)) for x in fake) / 2)
    got = discriminator_loss(torch.tensor(real), torch.tensor(fake))
    assert got.item() == pytest.approx(by_hand, rel=1e-6)


def test_discriminator_loss_with_label_smoothing_targets_one_minus_smooth():
    real, fake = [2.0], [-1.0]
    s = 0.1
    real_term = -((1 - s) * math.log(sigmoid(2.0)) + s * math.log(1 - sigmoid(2.0)))
    fake_term = -math.log(1 - sigmoid(-1.0))
    got = discriminator_loss(torch.tensor(real), torch.tensor(fake), smooth=s)
    assert got.item() == pytest.approx(real_term + fake_term, rel=1e-6)


def test_discriminator_loss_at_chance_is_two_log_two():
    assert discriminator_loss(torch.zeros(4), torch.zeros(4)).item() == pytest.approx(2 * math.log(2), rel=1e-6)


def test_generator_adv_loss_is_minus_log_d_of_the_summaries():
    fake = [0.0, 2.0, -3.0]
    by_hand = sum(-math.log(sigmoid(x)) for x in fake) / 3
    assert generator_adv_loss(torch.tensor(fake)).item() == pytest.approx(by_hand, rel=1e-6)


def test_generator_adv_loss_falls_as_the_discriminator_is_fooled():
    assert generator_adv_loss(torch.tensor([5.0])) < generator_adv_loss(torch.tensor([0.0])) < \
        generator_adv_loss(torch.tensor([-5.0]))


def test_generator_adv_loss_has_gradient_that_raises_the_fake_logits():
    logits = torch.tensor([-2.0, 0.0, 3.0], requires_grad=True)
    generator_adv_loss(logits).backward()
    assert (logits.grad < 0).all()  # gradient descent raises every logit towards "real"


def test_accuracy_counts_positive_logits_as_real():
    logits = torch.tensor([1.0, -1.0, 0.0, 2.0])
    assert accuracy(logits, real=True).item() == pytest.approx(0.5)  # 1.0 and 2.0
    assert accuracy(logits, real=False).item() == pytest.approx(0.5)  # -1.0 and 0.0 (0 is not "real")
    assert accuracy(torch.tensor([3.0, 4.0]), real=False).item() == 0.0
