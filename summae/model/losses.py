"""Loss functions of the seq2seq2seq, pure and unit-tested on hand-made tensors."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def token_nll(logits: torch.Tensor, labels: torch.Tensor, pad_id: int) -> torch.Tensor:
    """Mean cross-entropy over non-pad labels. logits (B, T, V), labels (B, T) -> scalar."""
    flat = logits.reshape(-1, logits.shape[-1]).float()  # (B*T, V)
    return F.cross_entropy(flat, labels.reshape(-1), ignore_index=pad_id)


def token_nll_per_sequence(logits: torch.Tensor, labels: torch.Tensor, pad_id: int) -> torch.Tensor:
    """Mean cross-entropy of each sequence over its non-pad labels: (B, T, V), (B, T) -> (B,)."""
    nll = F.cross_entropy(logits.transpose(1, 2).float(), labels, ignore_index=pad_id, reduction="none")  # (B, T)
    mask = (labels != pad_id).float()
    return (nll * mask).sum(1) / mask.sum(1).clamp(min=1)


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor, *, smooth: float = 0.0) -> torch.Tensor:
    """Binary cross-entropy: real texts labelled 1 - smooth, generated summaries 0."""
    real = F.binary_cross_entropy_with_logits(real_logits.float(), torch.full_like(real_logits.float(), 1.0 - smooth))
    fake = F.binary_cross_entropy_with_logits(fake_logits.float(), torch.zeros_like(fake_logits.float()))
    return real + fake


def generator_adv_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """Non-saturating GAN loss: -log D(summary), large while the discriminator spots the summaries."""
    return F.softplus(-fake_logits.float()).mean()


def accuracy(logits: torch.Tensor, *, real: bool) -> torch.Tensor:
    """Share of a batch the discriminator classifies correctly (logit > 0 means 'real')."""
    return ((logits > 0) == real).float().mean()
