"""Real vs generated short text, reading hard token ids or (straight-through) one-hot sequences."""

from __future__ import annotations

import torch
from torch import nn

from summae.model.bottleneck import soft_embed


class Discriminator(nn.Module):
    """A convolutional text classifier (widths 2-4, max-pooled): one logit per sequence, > 0 = real text.

    It reads `one_hot @ E`, so the generator's straight-through one-hots give it gradients, while its
    forward value is the same as reading the token ids.
    """

    def __init__(self, *, vocab_size: int, d_model: int = 128, filters: int = 128, widths=(2, 3, 4), dropout=0.1):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, d_model)
        self.convs = nn.ModuleList(nn.Conv1d(d_model, filters, w, padding=w - 1) for w in widths)
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(filters * len(widths), 1)

    def forward(self, *, mask: torch.Tensor, ids: torch.Tensor | None = None, one_hot: torch.Tensor | None = None,
                one_hot_ids: torch.Tensor | None = None) -> torch.Tensor:
        """mask (B, S) True on tokens (EOS included); ids (B, S) or one_hot (B, S, V) -> logits (B,). one_hot_ids
        (B, S): the hot token of each one-hot row, -1 on all-zero rows, for a hard one_hot (bottleneck.soft_embed)."""
        x = self.embed(ids) if one_hot is None else soft_embed(one_hot, self.embed.weight, one_hot_ids)  # (B, S, D)
        x = (x * mask[..., None].to(x.dtype)).transpose(1, 2)  # (B, D, S)
        pooled = []
        for conv in self.convs:
            h = torch.relu(conv(x))  # (B, F, S + w - 1)
            # (B, F): padded positions read zero vectors, so they add only relu(bias): a constant that the
            # discriminator sees for every sequence of that length, real or generated alike
            pooled.append(h.amax(dim=2))
        return self.out(self.dropout(torch.cat(pooled, dim=1))).squeeze(1)  # (B,)
