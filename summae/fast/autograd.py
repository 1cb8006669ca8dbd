"""Hand-written autograd functions for the bottleneck, equal in values and gradients to the reference
compositions in summae.model.bottleneck (tests/test_fast.py)."""

from __future__ import annotations

import torch

from summae.decode.rules import apply_mask


class StraightThrough(torch.autograd.Function):
    @staticmethod
    def forward(ctx, logits, hard_ids, tau, forbid, keep):
        scores = logits.detach().float()
        scores = apply_mask(scores, forbid) if forbid is not None else scores.clone()  # no gradient here: fast path
        soft = torch.softmax(scores.div_(tau), dim=-1)  # (B, S, V)
        value = torch.ones_like(hard_ids, dtype=soft.dtype) if keep is None else keep.to(soft.dtype)
        hard = torch.zeros_like(soft).scatter_(-1, hard_ids[..., None], value[..., None])  # exactly one-hot
        ctx.save_for_backward(soft, value)
        ctx.tau, ctx.dtype = tau, logits.dtype
        return hard

    @staticmethod
    def backward(ctx, grad):
        soft, value = ctx.saved_tensors
        grad = grad.float() * value[..., None]
        # the softmax's gradient: soft * (g - <g, soft>), zero where soft is (the masked tokens), over tau
        grad_logits = soft * (grad - (grad * soft).sum(-1, keepdim=True))
        return grad_logits.div_(ctx.tau).to(ctx.dtype), None, None, None, None


def is_hard(x: torch.Tensor) -> bool:
    """Every row (last dim) all zero, or zero but for a single 1."""
    ones = x == 1
    return bool(((x == 0) | ones).all()) and bool((ones.sum(-1) <= 1).all())


class HardEmbed(torch.autograd.Function):
    """one_hot @ weight for an exact 0/1 one_hot whose hot tokens are `ids` (-1: an all-zero row): the same values
    and gradients. The backward product runs under the autocast state of the forward, as the dense product's did."""

    @staticmethod
    def forward(ctx, one_hot, weight, ids):
        row_on = (ids >= 0)[..., None].to(weight.dtype)  # (B, S, 1): 0 for all-zero rows
        ids = ids.clamp(min=0)
        ctx.save_for_backward(ids, row_on, weight)
        device = one_hot.device.type
        ctx.autocast = (device, torch.is_autocast_enabled(device), torch.get_autocast_dtype(device))
        return weight[ids] * row_on  # (B, S, D)

    @staticmethod
    def backward(ctx, grad):
        ids, row_on, weight = ctx.saved_tensors
        grad_one_hot = grad_weight = None
        if ctx.needs_input_grad[0]:
            device, enabled, dtype = ctx.autocast
            with torch.autocast(device, dtype=dtype, enabled=enabled):
                grad_one_hot = grad.to(weight.dtype) @ weight.t()  # (B, S, D) @ (D, V) -> (B, S, V)
        if ctx.needs_input_grad[1]:
            rows = (grad * row_on).reshape(-1, weight.shape[1]).to(weight.dtype)  # (B*S, D)
            # nn.Embedding's own weight gradient (sorted, deterministic on CUDA): row i of `rows` onto weight[ids[i]]
            grad_weight = torch.ops.aten.embedding_dense_backward(rows, ids.reshape(-1), weight.shape[0], -1, False)
        return grad_one_hot, grad_weight, None
