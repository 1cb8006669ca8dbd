"""CPU fast paths of the decoding rules, each equal to its reference in summae.decode.rules (tests/test_fast.py).

torch's CPU kernels run some (B, V) operations as scalar loops: masked_fill and where, argmax over the last
dimension, and bool ops with a row broadcast. These compute the same values with vectorised kernels
(benchmarks/experiments/cpu_ops.py measures each against torch's).
"""

from __future__ import annotations

import torch

ARGMAX_CHUNK = 64  # summae's vocabularies are padded to a multiple of 64 (model.build.padded_vocab_size)


def masked_fill_applies(logits: torch.Tensor) -> bool:
    """masked_fill below gives logits.masked_fill's values for fp32 CPU tensors outside autograd."""
    return (logits.device.type == "cpu" and logits.dtype == torch.float32
            and not (torch.is_grad_enabled() and logits.requires_grad))


def masked_fill(logits: torch.Tensor, forbid: torch.Tensor) -> torch.Tensor:
    """logits.masked_fill(forbid, -inf) by a bool-to-float conversion through uint8 and two vectorised
    subtractions: x - 0 is x, and x - 2 * max_float is -inf."""
    huge = torch.finfo(torch.float32).max
    ones = forbid.view(torch.uint8).to(torch.float32).expand(logits.shape)  # (bool -> float directly is slower)
    return logits.sub(ones, alpha=huge).sub_(ones, alpha=huge)


def first_argmax(x: torch.Tensor) -> torch.Tensor:
    """x.argmax(-1), ties to the lowest index. For CPU x (..., V) with V a multiple of 64: the max of each
    64-wide chunk, the first chunk that holds the row's max, and the argmax within that chunk alone; elsewhere
    torch's argmax."""
    vocab = x.shape[-1]
    if x.device.type != "cpu" or vocab % ARGMAX_CHUNK or x.dim() < 2:
        return x.argmax(-1)
    chunks = x.reshape(-1, vocab // ARGMAX_CHUNK, ARGMAX_CHUNK)  # (N, V / 64, 64)
    chunk = chunks.amax(-1).argmax(-1)  # (N,): the first chunk that holds the row's max
    inside = chunks[torch.arange(chunks.shape[0], device=x.device), chunk].argmax(-1)  # (N,)
    return (chunk * ARGMAX_CHUNK + inside).view(x.shape[:-1])


def outer_and(rows: torch.Tensor, columns: torch.Tensor) -> torch.Tensor:
    """rows[:, None] & columns for bool rows (B,) and columns (V,), as a (B, V) bool mask. Computed on uint8:
    torch's CPU kernels run bool & with a row broadcast along the last dimension as a scalar loop, uint8's
    vectorise it."""
    return (rows.view(torch.uint8)[:, None] & columns.view(torch.uint8)).view(torch.bool)


def where_full(spelled: torch.Tensor, forbid: torch.Tensor) -> torch.Tensor:
    """torch.where(spelled.all(-1, keepdim=True), forbid, spelled) for bool (..., V), on uint8, whose CPU kernels
    vectorise a row broadcast (bool's do not)."""
    u8 = torch.uint8
    full = spelled.view(u8).amin(-1, keepdim=True)  # (..., 1): 1 where the spelling leaves no token
    return ((forbid.view(u8) & full) | (spelled.view(u8) & (full ^ 1))).view(torch.bool)
