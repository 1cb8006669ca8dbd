"""Beam search for the compressor under the length rules.

Re-runs the decoder over the whole prefix at each step (no KV cache): summaries are at most
`max_summary_tokens` long, so this costs little and works the same on every transformers version.
"""

from __future__ import annotations

import torch

from summae.decode.rules import (advance_floor, advance_word, apply_mask, document_words, empty_ends, order_mask,
                                 order_start)


@torch.no_grad()
def beam_search(model, comp_ids: torch.Tensor, comp_mask: torch.Tensor, target: torch.Tensor, *,
                beams: int) -> torch.Tensor:
    """The best of `beams` hypotheses per document by mean token log-probability. Returns (B, S) ids."""
    vocab, steps = model.vocab, model.max_summary_tokens
    batch, k = comp_ids.shape[0], beams
    enc = model.encode(comp_ids, comp_mask).repeat_interleave(k, 0)  # (B*K, L, D): beams of a document together
    mask, ids = comp_mask.repeat_interleave(k, 0), comp_ids.repeat_interleave(k, 0)
    row_target = target.repeat_interleave(k)  # (B*K,)
    device = comp_ids.device
    seqs = torch.empty((batch * k, 0), dtype=torch.long, device=device)
    scores = torch.full((batch, k), float("-inf"), device=device)
    scores[:, 0] = 0.0  # one live beam at the start, so the K beams begin different
    finished = torch.zeros(batch * k, dtype=torch.bool, device=device)
    start = torch.full((batch * k, 1), vocab.start_id, dtype=torch.long, device=device)
    doc = ids[:, 1:]  # (B*K, L): the documents, without the length token
    ends = empty_ends(doc)  # (B*K, L-1): where each beam's word ends in its document (advance_word)
    floor = order_start(doc)  # (B*K,): where each beam's next copied word must start after (in_order)
    held = document_words(doc, model.word_start, vocab.pad_id) if model.rules.in_order else None  # (B*K, V)
    for step in range(steps):
        dec_in = torch.cat([start, seqs], dim=1)  # (B*K, step + 1)
        logits, _ = model.compressor_scores(enc, mask, ids, dec_in)
        logp = torch.log_softmax(logits[:, -1].float(), dim=-1)  # (B*K, V)
        counts = model.word_start[seqs].long().sum(1)  # (B*K,)
        forbid = model.rules.step(counts, row_target, step)
        if model.no_repeat_words and step > 0:
            used = torch.zeros_like(forbid).scatter_(1, seqs, True) & model.word_start  # (B*K, V)
            forbid = forbid | used
        if model.rules.in_order:
            forbid = forbid | order_mask(floor, doc, model.word_start, vocab.pad_id, held)
        if model.whole_words:
            forbid = model.rules.spelled(forbid, ends, ids)
        logp = apply_mask(logp, forbid)
        # a finished beam continues only with pad, at no cost
        logp = torch.where(finished[:, None], torch.full_like(logp, float("-inf")), logp)
        logp[finished, vocab.pad_id] = 0.0
        cand = (scores.reshape(-1, 1) + logp).reshape(batch, -1)  # (B, K*V)
        top, index = cand.topk(k, dim=1)  # (B, K)
        width = logp.shape[-1]
        rows = (torch.arange(batch, device=device)[:, None] * k + index // width).reshape(-1)  # (B*K,)
        tokens = (index % width).reshape(-1, 1)
        seqs = torch.cat([seqs[rows], tokens], dim=1)
        if model.whole_words:
            ends = advance_word(ends[rows], tokens[:, 0], doc, model.rules.boundary, vocab.pad_id)
        if model.rules.in_order:
            floor = advance_floor(floor[rows], tokens[:, 0], doc)
        finished = finished[rows] | (tokens[:, 0] == vocab.eos_id)
        scores = top
        if bool(finished.all()):
            break
    lengths = (seqs != vocab.pad_id).sum(1).clamp(min=1).float()  # tokens incl. EOS
    best = (scores.reshape(-1) / lengths).reshape(batch, k).argmax(1)  # (B,)
    chosen = seqs.reshape(batch, k, -1)[torch.arange(batch, device=device), best]  # (B, T)
    out = torch.full((batch, steps), vocab.pad_id, dtype=torch.long, device=device)
    out[:, : chosen.shape[1]] = chosen
    return out
