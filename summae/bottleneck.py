"""The text bottleneck as pure functions: length rules, sampling, straight-through one-hots, soft embeddings.

The middle of the auto-encoder is a real token sequence. Its forward value is always a hard one-hot
(the words a person reads); gradients reach the compressor through the softmax of its logits
(straight-through estimator), and the reconstructor and discriminator read `one_hot @ E`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

NEG_INF = float("-inf")


def word_counts(ids: torch.Tensor, word_start: torch.Tensor) -> torch.Tensor:
    """Words begun so far before each position. ids (B, S) -> (B, S): counts[b, t] = words in ids[b, :t]."""
    starts = word_start[ids].long()  # (B, S)
    return torch.cumsum(starts, dim=1) - starts


def length_rule_mask(counts: torch.Tensor, target: torch.Tensor, step: torch.Tensor | int, *, max_steps: int,
                     word_start: torch.Tensor, banned: torch.Tensor, eos_id: int) -> torch.Tensor:
    """Tokens that may not come next, as a bool mask (..., V).

    counts: words already written, (B,) or (B, S); target: words wanted, (B,); step: position of the token
    being chosen (int, or (S,) for a whole sequence). Rules: never a banned token; the first token starts a
    word; no EOS before `target` words; no new word once `target` words are written (so a summary never
    exceeds its target); only EOS at the last position.
    """
    if counts.dim() == 2:
        target = target[:, None]  # (B, 1) against (B, S)
    below = (counts < target)[..., None]  # (..., 1)
    last = (torch.as_tensor(step, device=counts.device) >= max_steps - 1)
    last = last.reshape(*([1] * (counts.dim() - 1)), -1, 1) if last.dim() else last  # broadcast over B
    vocab = word_start.shape[0]
    is_eos = torch.zeros(vocab, dtype=torch.bool, device=counts.device)
    is_eos[eos_id] = True
    first = (counts == 0)[..., None]  # (..., 1): a summary starts with a new word, not a word piece
    forbid = banned | (below & is_eos) | (~below & word_start) | (first & ~word_start)  # (..., V)
    return torch.where(last, ~is_eos, forbid)  # the last position may only hold EOS


def repeat_mask(ids: torch.Tensor, word_start: torch.Tensor) -> torch.Tensor:
    """Word-start tokens already written before each position: (B, S) -> (B, S, V) bool.

    Banning them stops the "shell shell" and "the the" repetitions of small models (Wang & Lee removed
    repeated tokens after decoding; banning them keeps the summary at its word target instead).
    """
    vocab = word_start.shape[0]
    used = torch.zeros(ids.shape[0], vocab, dtype=torch.bool, device=ids.device)
    masks = []
    for t in range(ids.shape[1]):
        masks.append(used.clone())
        used = used | (F.one_hot(ids[:, t], vocab).bool() & word_start)
    return torch.stack(masks, dim=1)


def apply_mask(logits: torch.Tensor, forbid: torch.Tensor) -> torch.Tensor:
    return logits.masked_fill(forbid, NEG_INF)


def choose(logits: torch.Tensor, temperature: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Next token from masked logits (..., V): argmax when temperature is 0, else a Gumbel-max sample."""
    if temperature == 0:
        return logits.argmax(-1)
    uniform = torch.rand(logits.shape, device=logits.device, generator=generator).clamp_(1e-9, 1 - 1e-9)
    gumbel = -torch.log(-torch.log(uniform))
    return (logits.float() / temperature + gumbel).argmax(-1)


def straight_through(logits: torch.Tensor, hard_ids: torch.Tensor, tau: float) -> torch.Tensor:
    """One-hot of hard_ids (B, S) in the forward pass, softmax(logits / tau) gradients in the backward.

    Masked (-inf) logits get zero probability, so gradients never flow into forbidden tokens.
    """
    soft = torch.softmax(logits.float() / tau, dim=-1)  # (B, S, V)
    hard = F.one_hot(hard_ids, soft.shape[-1]).to(soft.dtype)  # (B, S, V)
    return hard + (soft - soft.detach())  # parenthesised: the forward value is exactly the one-hot


def soft_embed(one_hot: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Expected embeddings: (B, S, V) @ (V, D) -> (B, S, D); equal to a lookup for a hard one-hot."""
    return one_hot.to(weight.dtype) @ weight


def after_eos_mask(ids: torch.Tensor, eos_id: int) -> torch.Tensor:
    """True at positions after the first EOS (padding), (B, S) -> (B, S); the EOS itself stays."""
    is_eos = (ids == eos_id).long()
    return (torch.cumsum(is_eos, dim=1) - is_eos) > 0


def target_words(doc_words: torch.Tensor, *, ratio_min: float, ratio_max: float, min_words: int, max_words: int,
                 generator: torch.Generator | None = None) -> torch.Tensor:
    """Training length targets: ratio * document words, ratio ~ U[ratio_min, ratio_max], clamped. (B,) -> (B,)."""
    ratio = torch.rand(doc_words.shape, generator=generator) * (ratio_max - ratio_min) + ratio_min
    words = torch.round(doc_words.float() * ratio).long()
    words = words.clamp(min_words, max_words)
    return torch.minimum(words, doc_words.clamp(min=1))


def words_for_request(doc_words: torch.Tensor, *, words: int | None, ratio: float | None, max_words: int) -> torch.Tensor:
    """Length targets at summarizing time: a fixed word count, or a ratio of each document. (B,) -> (B,)."""
    if ratio is not None:
        wanted = torch.round(doc_words.float() * ratio).long()
    else:
        wanted = torch.full_like(doc_words, int(words))
    return wanted.clamp(1, max_words)


def lead_targets(doc_ids: torch.Tensor, target: torch.Tensor, *, word_start: torch.Tensor, max_tokens: int,
                 eos_id: int, pad_id: int) -> torch.Tensor:
    """Pseudo-summaries: the first `target` words of each document, then EOS, padded. (B, L) -> (B, max_tokens)."""
    counts = word_counts(doc_ids, word_start) + word_start[doc_ids].long()  # (B, L): words up to and incl. here
    keep = (counts <= target[:, None]) & (doc_ids != pad_id) & (doc_ids != eos_id)
    keep[:, max_tokens - 1:] = False  # room for EOS
    lengths = keep.sum(1)  # (B,) tokens kept; keep is a prefix because counts only grow
    out = torch.full((doc_ids.shape[0], max_tokens), pad_id, dtype=doc_ids.dtype, device=doc_ids.device)
    width = min(max_tokens, doc_ids.shape[1])
    out[:, :width] = torch.where(keep[:, :width], doc_ids[:, :width], torch.full_like(doc_ids[:, :width], pad_id))
    out.scatter_(1, lengths[:, None], eos_id)
    return out
