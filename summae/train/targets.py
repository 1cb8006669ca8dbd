"""What the compressor learns from, beside the reference step's straight-through gradient.

The reference auto-encoder step (summae.train.trainer.Trainer.train_step) trains the compressor on its
pseudo-summary and, through the straight-through one-hots, on the reconstruction (and D). The options here
change its targets or add a sequence-level signal; each is off by default and reads the model without dropout:
- train.select=reconstruction: the pseudo-summary or the compressor's own sample, whichever the reconstructor
  rebuilds the document from better (own_or_pseudo);
- train.select=family: the extraction, among the search's at a few weights around the teacher's, that describes
  the document in the fewest nats through the bottleneck (family_targets);
- train.rl_weight: a self-critical policy gradient with that description length as the reward (policy_loss).
Plus the pretraining noise on the compressor input (drop_words).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from summae.decode.greedy import eval_mode
from summae.train import criterion


@dataclass
class StepBatch:
    """One training step's inputs (0 in Trainer.train_step)."""
    doc_labels: torch.Tensor  # (B, L) document + EOS, pad elsewhere: the reconstruction target
    comp_ids: torch.Tensor  # (B, L+1) the compressor input: <len_k> document (noised while pretraining)
    comp_mask: torch.Tensor  # (B, L+1)
    target: torch.Tensor  # (B,) summary words wanted
    pseudo: torch.Tensor  # (B, S) pseudo-summaries (references in the last sup_rows rows)
    sup_rows: int  # labeled rows at the end of the batch (semi-supervised option), else 0
    pretrain: bool  # a pseudo-summary pretraining step


def drop_words(ids: torch.Tensor, mask: torch.Tensor, *, p: float, eos_id: int,
               pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Pretraining noise (train.lead_input_drop = p): drop a share of the document's tokens (B, L) from the
    compressor input, never EOS or the first token (the lead target stays reachable); the kept tokens close up."""
    if p <= 0:
        return ids, mask
    drop = (torch.rand(ids.shape, device=ids.device) < p) & (ids != eos_id) & mask  # (B, L)
    drop[:, 0] = False
    kept = torch.where(drop, torch.full_like(ids, pad_id), ids)
    order = torch.sort((kept == pad_id).long(), dim=1, stable=True).indices  # (B, L): pads to the end
    kept = torch.gather(kept, 1, order)
    return kept, kept != pad_id


@torch.no_grad()
def own_or_pseudo(model, b: StepBatch, *, temperature: float, pad_id: int, extractor=None, lm_weight: float = 0.0,
                  disc=None, d_weight: float = 0.0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """train.select=reconstruction: each document's summary sampled by the compressor, and the target the
    auto-encoder prefers: the pseudo-summary or that sample, whichever the reconstructor rebuilds the document
    from with the lower NLL, less lm_weight x the real texts' LM log-probability per word (extractor's LM) and
    d_weight x log D(summary) (disc, when given). Labeled rows keep their references. Returns (written (B, S),
    targets (B, S), own (B,): True where the sample won)."""
    with eval_mode(model):
        written = model.write_summary(b.comp_ids, b.comp_mask, b.target, temperature=temperature)
        scores = [model.reconstruction_nll(s, b.doc_labels) for s in (written, b.pseudo)]  # (B,) each
    if lm_weight > 0:
        scores = [s - lm_weight * extractor.lm_per_word(ids).to(s.device)
                  for s, ids in zip(scores, (written, b.pseudo))]
    if d_weight > 0 and disc is not None:
        with eval_mode(disc):
            scores = [s - d_weight * F.logsigmoid(disc(ids=ids, mask=ids != pad_id).float())
                      for s, ids in zip(scores, (written, b.pseudo))]
    own = scores[0] < scores[1]  # (B,)
    own[own.shape[0] - b.sup_rows:] = False
    return written, torch.where(own[:, None], written, b.pseudo), own


@torch.no_grad()
def family_targets(model, extractor, b: StepBatch, *, pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """train.select=family: each document's target is the extraction, among the search's at criterion.FAMILY
    settings around the teacher's weights, that describes the document in the fewest nats through the bottleneck
    (criterion.description_per_document: the summary under the real texts' LM, then the document under this
    model's reconstructor). No weight to set, no references. Labeled rows keep their references. Returns
    (targets (B, S), teacher (B',): True where the teacher's own setting won)."""
    n = b.doc_labels.shape[0] - b.sup_rows
    docs = b.doc_labels[:n]
    candidates = criterion.family_extractions(extractor, docs, b.target[:n], b.pseudo.shape[1])
    with eval_mode(model):
        nats = torch.stack([sum(criterion.description_per_document(model, extractor, c, docs, pad_id))
                            for c in candidates])  # (C, B')
    chosen, teacher = criterion.pick_family(candidates, nats.argmin(0))  # (B', S), (B',)
    return torch.cat([chosen, b.pseudo[n:]]), teacher


def policy_loss(model, extractor, b: StepBatch, logp: torch.Tensor, written: torch.Tensor, *, pad_id: int,
                eos_id: int, teacher_weight: float, values: dict) -> torch.Tensor:
    """train.rl_weight: the self-critical policy gradient's loss. Each written summary's reward is minus its
    description length per document token (criterion.description_per_document: the summary under the real texts'
    LM, then the document under this model's reconstructor), plus teacher_weight (train.rl_teacher_weight) x its
    token F1 against the teacher's extraction; the baseline is the greedy summary's. logp (B,): the written
    summaries' log-probabilities, with their gradient. Labeled rows (their targets are references) take no part.
    Metrics go to `values`."""
    n = b.doc_labels.shape[0] - b.sup_rows
    docs = b.doc_labels[:n]
    with torch.no_grad(), eval_mode(model):
        greedy = model.write_summary(b.comp_ids[:n], b.comp_mask[:n], b.target[:n], temperature=0.0)
        tokens = (model.rec_target(docs) != pad_id).sum(1).float().clamp(min=1)  # (n,)
        sample, base = (sum(criterion.description_per_document(model, extractor, ids, docs, pad_id)) / tokens
                        for ids in (written[:n], greedy))  # (n,) nats per document token each
        if teacher_weight > 0:  # rewards (negated, like the nats) gain agreement with the teacher's extraction
            size = model.rules.word_start.shape[0]
            sample_f1, base_f1 = (criterion.token_f1(ids, b.pseudo[:n], (pad_id, eos_id), size)
                                  for ids in (written[:n], greedy))
            sample, base = sample - teacher_weight * sample_f1, base - teacher_weight * base_f1
            values["rl/teacher_f1"] = sample_f1.mean()
    advantage = (base - sample).to(logp.dtype)  # (n,) > 0 where the sample describes its document better
    values["rl/advantage"] = advantage.mean()
    values["rl/sample_wins"] = (advantage > 0).float().mean()
    values["rl/greedy_nats"] = base.mean()
    return -(advantage * logp[:n]).mean()
