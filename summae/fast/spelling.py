"""Whole-word decoding without the (B, V) spelling mask: equal to masking with
summae.decode.rules.document_word_mask and choosing (tests/test_fast.py)."""

from __future__ import annotations

import torch

from summae.decode.rules import NEG_INF, apply_mask, argmax, gumbel_perturbed
from summae.fast.cpu_ops import outer_and


def choose_spelled(scores: torch.Tensor, forbid: torch.Tensor, ends: torch.Tensor, doc_ids: torch.Tensor,
                   boundary: torch.Tensor, pad_id: int, temperature: float = 0.0,
                   generator: torch.Generator | None = None, sync_free: bool = False) -> torch.Tensor:
    """The token `choose` picks under `forbid` plus the document's spelling of the word so far, (B, V) -> (B,).

    ends (B, L-1): where the word written so far ends in the document (advance_word). Equal to
    choose(apply_mask(scores, spelled), ...) where spelled = forbid | document_word_mask(ends, ...), or forbid
    alone in rows where that leaves no token, ties included (the lowest token id wins, as in argmax). It never
    builds the (B, V) spelling mask: the allowed set is the document's followers of those positions (at most
    L tokens, scored by a gather), plus all boundary tokens where one of them ends a word. So one pass over V
    (the rules' scores, the non-boundary tokens of those rows set to -inf) and one argmax give both the rules'
    choice of the other rows and the best boundary token of these.
    """
    if temperature != 0:  # a Gumbel-max sample is the argmax of perturbed scores: the same draws as `choose`
        scores = gumbel_perturbed(scores, temperature, generator)
    if doc_ids.shape[1] < 2:  # documents of one token (EOS): no piece follows another, the rules alone decide
        return argmax(apply_mask(scores, forbid))

    following = doc_ids[:, 1:]  # (B, L-1): the token after position j, where `ends` says the word may end
    ends_word = (ends & boundary[following]).any(-1)  # (B,)
    follower_ok = ends & ~forbid.gather(1, following)  # followers the rules allow
    follower_val = torch.where(follower_ok, scores.gather(1, following), NEG_INF)  # (unmasked where allowed)
    best_val = follower_val.max(-1).values  # (B,); -inf where no follower is allowed
    vocab = scores.shape[-1]
    # lowest token id among the best followers (argmax's tie rule); vocab where none is allowed
    best_id = torch.where(follower_ok & (follower_val == best_val[:, None]), following, vocab).min(-1).values

    # one masked pass over V: the rules, and in rows where the word may end every non-boundary token too (only
    # boundary tokens compete with the followers there)
    masked = apply_mask(scores, forbid | outer_and(ends_word, ~boundary))
    top = argmax(masked)  # (B,): the best boundary token there, the rules' choice elsewhere
    top_val = masked.gather(1, top[:, None]).squeeze(1)
    bound_id = torch.where(ends_word & boundary[top] & ~forbid.gather(1, top[:, None]).squeeze(1), top, vocab)

    # the better of the two candidates, the lower id on a tie; the rules alone where neither exists
    take_bound = (bound_id < vocab) & ((best_id == vocab) | (top_val > best_val)
                                       | ((top_val == best_val) & (bound_id < best_id)))
    spelled = torch.where(take_bound, bound_id, best_id)
    # the rules' choice: `top` outside the word-ending rows; recomputed in the rare rows that need it, where the
    # word may end but the rules allow no boundary token and no follower
    lost = ends_word & (spelled == vocab)
    if sync_free:  # no host sync (CUDA graphs): the rules' choice of every row, one more pass over V
        free = torch.where(lost, argmax(apply_mask(scores, forbid)), top)
    else:
        free = top.clone()
        if bool(lost.any()):
            free[lost] = argmax(apply_mask(scores[lost], forbid[lost]))
    return torch.where(spelled < vocab, spelled, free)
