"""The text bottleneck: straight-through one-hots and soft embeddings.

The middle of the auto-encoder is a real token sequence. Its forward value is always a hard one-hot (the
words a person reads); gradients reach the compressor through the softmax of its logits (straight-through
estimator), and the reconstructor and discriminator read `one_hot @ E`. Each function here is the reference;
summae.fast holds the equal, faster versions that run when summae.fast.enabled().
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from summae import fast
from summae.fast.autograd import HardEmbed, StraightThrough, is_hard

NEG_INF = float("-inf")


def straight_through(logits: torch.Tensor, hard_ids: torch.Tensor, tau: float, forbid: torch.Tensor | None = None,
                     keep: torch.Tensor | None = None) -> torch.Tensor:
    """One-hot of hard_ids (B, S) in the forward pass, softmax(logits / tau) gradients in the backward.

    forbid (B, S, V) bool: tokens masked to -inf before the softmax, so they get no probability and no
    gradient. keep (B, S) bool: positions that count; the others are zero, forward and backward.
    """
    if fast.enabled():
        return StraightThrough.apply(logits, hard_ids, tau, forbid, keep)
    scores = logits.float() if forbid is None else logits.float().masked_fill(forbid, NEG_INF)
    y_soft = torch.softmax(scores / tau, dim=-1)  # (B, S, V)
    y_hard = F.one_hot(hard_ids, logits.shape[-1]).to(y_soft.dtype)  # (B, S, V)
    y = y_hard - y_soft.detach() + y_soft  # forward: y_hard; backward: the softmax's gradient
    if keep is not None:
        y = y * keep[..., None].to(y.dtype)
    return y  # (B, S, V) fp32


def soft_embed(one_hot: torch.Tensor, weight: torch.Tensor, ids: torch.Tensor | None = None) -> torch.Tensor:
    """Expected embeddings: (B, S, V) @ (V, D) -> (B, S, D); equal to a lookup for a hard one-hot.

    ids (B, S): where the caller knows `one_hot` is hard (a straight-through one-hot, a masked F.one_hot), the
    token each row is hot at, -1 on all-zero rows (hard_ids). The fast path then looks the rows up instead of
    multiplying (same values and gradients: summae.fast.autograd.HardEmbed).
    """
    if fast.enabled():
        if ids is None and one_hot.device.type == "cpu" and one_hot.is_floating_point() and is_hard(one_hot):
            ids = hard_ids(one_hot)
        if ids is not None:
            return HardEmbed.apply(one_hot, weight, ids)
    return one_hot.to(weight.dtype) @ weight  # (B, S, V) @ (V, D)


def hard_ids(one_hot: torch.Tensor) -> torch.Tensor:
    """(B, S, V) hard one-hot -> (B, S): the hot token of each row, -1 on all-zero rows."""
    return torch.where(one_hot.amax(-1) > 0, one_hot.argmax(-1), -1)
