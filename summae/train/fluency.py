"""A fluency prior in place of the discriminator: the summary's nats under a token bigram LM of the real short texts.

train.lm_weight > 0 adds, after pretraining, lm_weight x the summary's mean nats per token under this LM to the
generator's loss. Unlike D it is fixed (counted once from the real texts, never trained against the summaries),
so it cannot be fooled and has no adversarial dynamics. Its gradient reaches the compressor through the
straight-through one-hots, as the reconstruction's does.
"""

from __future__ import annotations

import torch

MAX_VOCAB = 16384  # the table is dense, V x V floats: 1 GiB at this size
SEEN_WEIGHT = 0.9  # interpolation: 0.9 x the bigram estimate + 0.1 x the unigram, for a token seen as a left context


class BigramPrior(torch.nn.Module):
    """log P(b | a) for every token pair (a, b) of the tokenizer's vocabulary, from real texts' token ids.

    The start of a text is the context `eos_id` (EOS never precedes a word inside a text), and every text ends
    with a transition to EOS, as the summaries do. Tokens never seen as a left context fall back
    to the add-one unigram distribution.
    """

    def __init__(self, texts: list[list[int]], *, vocab_size: int, eos_id: int):
        super().__init__()
        if vocab_size > MAX_VOCAB:
            raise ValueError(f"train.lm_weight needs a vocabulary of at most {MAX_VOCAB} tokens, got {vocab_size}")
        pairs = [(a, b) for ids in texts for a, b in zip([eos_id, *ids], [*ids, eos_id])]
        left, right = torch.tensor(pairs, dtype=torch.long).reshape(-1, 2).unbind(1)
        counts = torch.zeros(vocab_size * vocab_size)
        counts.index_add_(0, left * vocab_size + right, torch.ones(len(pairs)))
        counts = counts.view(vocab_size, vocab_size)  # (V, V)
        unigram = (counts.sum(0) + 1) / (counts.sum() + vocab_size)  # (V,) add-one
        context = counts.sum(1, keepdim=True)  # (V, 1)
        bigram = counts / context.clamp(min=1)
        seen = (context > 0).float()
        probs = seen * (SEEN_WEIGHT * bigram + (1 - SEEN_WEIGHT) * unigram) + (1 - seen) * unigram
        self.register_buffer("log_probs", probs.log(), persistent=False)  # (V, V)
        self.eos_id = eos_id

    def forward(self, one_hot: torch.Tensor, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Mean nats per summary token: one_hot (B, S, V) straight-through, ids (B, S) its hot tokens (any value
        where mask is False), mask (B, S) True on tokens (EOS included) -> scalar.

        The forward value is the LM's; the gradient reaching each one-hot row is log P(. | previous token) +
        log P(next token | .), the derivative of the sum of bigram terms in which the row takes part.
        """
        ids = torch.where(mask, ids, self.eos_id)  # (B, S)
        prev = torch.cat([torch.full_like(ids[:, :1], self.eos_id), ids[:, :-1]], dim=1)  # (B, S)
        nxt = torch.cat([ids[:, 1:], torch.full_like(ids[:, :1], self.eos_id)], dim=1)  # (B, S)
        rows = self.log_probs[prev]  # (B, S, V): log P(. | previous token)
        cols = self.log_probs[:, nxt].permute(1, 2, 0)  # (B, S, V): log P(next token | .)
        has_next = torch.cat([mask[:, 1:], torch.zeros_like(mask[:, :1])], dim=1)  # (B, S)
        one_hot = one_hot.float()
        as_word = (one_hot * rows).sum(-1)  # (B, S): log P(token | previous), the LM's value
        as_context = (one_hot * cols).sum(-1) * has_next.float()  # (B, S): the same terms, seen from the left
        log_prob = as_word + (as_context - as_context.detach())  # value: as_word; gradient: both roles
        m = mask.float()
        return -(log_prob * m).sum() / m.sum().clamp(min=1)
