"""The semi-supervised option: a few labeled (document, summary) pairs ride along with every training step.

Never part of the unsupervised recipe: only `data.labeled_pairs > 0` turns it on, and benchmarks record it
(`labeled_pairs` in the result JSON). The subset is the first N pairs of one fixed permutation, so the
1k-pair subset lies inside the 10k one and runs with different training seeds see the same pairs.
"""

from __future__ import annotations

import torch

from summae.train.batches import TensorBatches
from summae.tokenization import encode_texts, pad_ids
from summae.train.pseudo import lead_targets


class LabeledBatches:
    """Batches of labeled pairs, resumable by step: (documents (b, L), references (b, S), words (b,))."""

    def __init__(self, documents: list[str], summaries: list[str], tokenizer, vocab, *, batch_size: int,
                 max_source_tokens: int, max_summary_tokens: int, max_words: int, word_start: torch.Tensor,
                 seed: int, rank: int = 0, world: int = 1):
        eos, pad = vocab.eos_id, vocab.pad_id
        word_start = word_start.cpu()  # (V,) bool; the batches live on the CPU until each step moves them
        doc_ids, _ = encode_texts(tokenizer, documents, max_source_tokens - 1)
        docs = pad_ids(doc_ids, eos_id=eos, pad_id=pad, width=max_source_tokens)  # (N, L)
        sum_ids, _ = encode_texts(tokenizer, summaries, 4 * max_summary_tokens)
        refs = pad_ids(sum_ids, eos_id=eos, pad_id=pad, width=4 * max_summary_tokens + 1)  # (N, 4S + 1)
        # the reference's first k words, k = its word count capped at summary.max_words: the same length
        # rules as the summaries the compressor writes, so the length token <len_k> means the same thing
        words = (word_start[refs] & (refs != pad) & (refs != eos)).sum(1).clamp(1, max_words)  # (N,)
        refs = lead_targets(refs, words, word_start=word_start, max_tokens=max_summary_tokens, eos_id=eos,
                            pad_id=pad)  # (N, S)
        # a reference whose pieces overflow max_summary_tokens lost words: count what is left
        words = (word_start[refs] & (refs != pad) & (refs != eos)).sum(1).clamp(min=1)  # (N,)
        self.width = docs.shape[1]
        self.summary_width = refs.shape[1]
        # one matrix [document | reference | words], so TensorBatches shuffles the pairs together
        joined = torch.cat([docs, refs, words[:, None]], dim=1)  # (N, L + S + 1)
        self.batches = TensorBatches(joined, min(batch_size, len(documents)), seed=seed + 2, rank=rank, world=world)

    def batch(self, step: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        rows = self.batches.batch(step)
        w, s = self.width, self.summary_width
        return rows[:, :w], rows[:, w: w + s], rows[:, w + s]
