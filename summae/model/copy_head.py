"""A copy (pointer) head for the compressor: most summary words are document words.

p(w) = g * p_vocab(w) + (1 - g) * sum_{i : x_i = w} a_i, with a = attention of the decoder state over
the encoder states and g = sigmoid(gate([decoder state; context])). From scratch, a plain transformer
needs many steps to learn to copy; with this head copying is one attention away.
"""

from __future__ import annotations

import math

import torch
from torch import nn

LOG_FLOOR = 1e-9  # log(0) guard: tokens with no mass get log(1e-9), and the length rules mask them anyway


class CopyHead(nn.Module):
    def __init__(self, d_model: int):
        super().__init__()
        self.query = nn.Linear(d_model, d_model, bias=False)
        self.gate = nn.Linear(2 * d_model, 1)
        nn.init.constant_(self.gate.bias, 0.0)

    def forward(self, *, logits: torch.Tensor, dec_h: torch.Tensor, enc_h: torch.Tensor, enc_mask: torch.Tensor,
                src_ids: torch.Tensor, targets: torch.Tensor | None = None, log: bool = True) -> torch.Tensor:
        """Log-probabilities of the mixture: (B, T, V), or (B, T) at `targets` (B, T) when given; with log=False
        and no targets, the probabilities themselves (what greedy decoding needs: the same argmax, no log pass).

        logits (B, T, V) of the vocabulary head; dec_h (B, T, D) decoder states; enc_h (B, L, D) encoder states;
        enc_mask (B, L) True on real tokens; src_ids (B, L) the token ids the encoder read. With targets, the
        (B, T, V) copy distribution is never built: a supervised loss needs only the target's probability.
        """
        dec_h, enc_h = dec_h.float(), enc_h.float()
        scores = self.query(dec_h) @ enc_h.transpose(1, 2) / math.sqrt(dec_h.shape[-1])  # (B, T, L)
        scores = scores.masked_fill(~enc_mask.bool()[:, None, :], float("-inf"))
        attn = torch.softmax(scores, dim=-1)  # (B, T, L)
        context = attn @ enc_h  # (B, T, D)
        gate = torch.sigmoid(self.gate(torch.cat([dec_h, context], dim=-1)))  # (B, T, 1)
        if targets is not None:
            vocab_logp = torch.log_softmax(logits, dim=-1, dtype=torch.float32)
            vocab_y = vocab_logp.gather(2, targets[..., None]).exp()  # (B, T, 1)
            copy_y = (attn * (src_ids[:, None, :] == targets[:, :, None])).sum(-1, keepdim=True)  # (B, T, 1)
            return torch.log(gate * vocab_y + (1 - gate) * copy_y + LOG_FLOOR).squeeze(-1)
        vocab = torch.softmax(logits, dim=-1, dtype=torch.float32)  # (B, T, V), in fp32 without a converted copy
        index = src_ids[:, None, :].expand(-1, attn.shape[1], -1)  # (B, T, L)
        copy = ((1 - gate) * attn).to(vocab.dtype)  # (B, T, L): attn is bf16 under CPU autocast
        if not torch.is_grad_enabled():
            # decoding: the mixture built in place, two passes over (B, T, V) fewer
            mixture = vocab.mul_(gate).scatter_add_(2, index, copy)
            return mixture if not log else mixture.add_(LOG_FLOOR).log_()
        # the copy mass added per token id onto the gated vocabulary distribution, without a (B, T, V) copy table
        mixture = (gate * vocab).scatter_add(2, index, copy)
        return torch.log(mixture + LOG_FLOOR) if log else mixture
