"""A reference-free choice of the teacher's weights: the shortest description of the documents through the bottleneck.

A summary s of a document x is a two-part code for x: first s, under a language model of the real short texts
(the headline bigram LM the search already has), then x given s, under a reconstructor:

    L(x; s) = -log P_real(s) - log P_rec(x | s)        nats per document

A summary of filler words is cheap to send but leaves the whole document to pay for; a summary of rare words
explains the document well but costs many nats itself. Minimum description length balances the two with no
weight to tune and no references: each (alpha, beta) of the search is scored by the mean L over held-out
training documents, and the lowest wins.

The judge must not favour one setting because it learned on it, so it is trained on all of them at once: one
small reconstructor (with the copy head, so it reads the summary) fitted on the extractions of every grid
setting of the same documents, then asked to score each setting's extractions of other documents.
"""

from __future__ import annotations

import dataclasses
import time

import torch

from summae.config import Config
from summae.model.build import build_models
from summae.train.batches import length_chunks, trim
from summae.train.pseudo import Extractor

JUDGE = {"d_model": 128, "encoder_layers": 2, "decoder_layers": 2, "heads": 4, "ffn_dim": 512, "dropout": 0.1,
         "rec_copy": True, "rec_target_tokens": 0}  # the judge's size: a few CPU minutes; the copy head reads s;
# it rebuilds whole documents, since the description length counts every document token
# train.teacher_search's grid: around the weights dev references chose on Gigaword (alpha 1.5, beta 0.2), where the
# criterion's four best settings lay (benchmarks/results/extract-20261205-cpu2-description-length.json)
SEARCH_GRID = [(a, b) for a in (1.0, 1.5, 2.0, 3.0) for b in (0.1, 0.2, 0.3)]
SEARCH_FIT_DOCS, SEARCH_SCORE_DOCS, SEARCH_STEPS = 2000, 500, 300
# the judge's batch holds about this many document tokens (64 documents of 64 tokens): its cost per step stays
# that of short texts when documents are long (~2 minutes on 2 CPU cores; 512-token documents at batch 64 took
# over 10 minutes, most of a 30-minute budget)
SEARCH_BATCH_TOKENS = 4096


@dataclasses.dataclass
class TeacherChoice:
    alpha: float
    beta: float
    table: list[dict]  # one row per grid setting: alpha, beta, summary_nats, document_nats, description_nats
    seconds: float


def judge_config(cfg: Config, size: dict | None = None) -> Config:
    """cfg with the judge's model size (JUDGE, updated by `size`) and fp32; the tokenizer and summary settings are
    kept."""
    model = dataclasses.replace(cfg.model, **{**JUDGE, **(size or {})})
    return dataclasses.replace(cfg, model=model)


def extractions_at(extractor: Extractor, docs: torch.Tensor, words: torch.Tensor,
                   settings: list[tuple[float, float]], max_tokens: int) -> list[torch.Tensor]:
    """The search's extractions of docs (N, L), words (N,) each, at every (alpha, beta) of settings: one
    (N, max_tokens) per setting, in order (Extractor.targets_at on chunks of 512 documents)."""
    parts = [extractor.targets_at(rows, w, settings, max_tokens=max_tokens)
             for rows, w in zip(torch.split(docs, 512), torch.split(words, 512))]  # chunks x settings
    return [torch.cat(chunks) for chunks in zip(*parts)]


# train.select=family: the search at the extractor's alpha x these factors and beta + these offsets (its own setting
# among them); around Gigaword's (1.5, 0.2) they are (1, 1.5, 2) x (0.1, 0.2, 0.3)
FAMILY = [(a, d) for a in (2 / 3, 1.0, 4 / 3) for d in (-0.1, 0.0, 0.1)]
FAMILY_TEACHER = FAMILY.index((1.0, 0.0))


def family_settings(alpha: float, beta: float) -> list[tuple[float, float]]:
    """The FAMILY settings around (alpha, beta), in FAMILY's order."""
    return [(alpha * a, max(0.0, beta + d)) for a, d in FAMILY]


def family_extractions(extractor: Extractor, docs: torch.Tensor, target: torch.Tensor,
                       max_tokens: int) -> list[torch.Tensor]:
    """The search's extractions of docs (N, L), target (N,) words each, at every FAMILY setting around the
    extractor's weights: one (N, max_tokens) per setting, in FAMILY's order."""
    return extractor.targets_at(docs, target, family_settings(extractor.alpha, extractor.beta), max_tokens=max_tokens)


def pick_family(candidates: list[torch.Tensor], best: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Row i of candidates[best[i]] for each row: candidates C x (B, S) in FAMILY's order, best (B,) -> (the picks
    (B, S), (B,) True where the teacher's own setting was picked)."""
    chosen = torch.stack(candidates)[best, torch.arange(best.shape[0], device=best.device)]
    return chosen, best == FAMILY_TEACHER


def fit_judge(model, summaries: torch.Tensor, docs: torch.Tensor, *, steps: int, batch_size: int, lr: float,
              seed: int) -> list[float]:
    """Train model's reconstructor on (summary, document) pairs (N, S), (N, L) for `steps` AdamW steps; the
    mean loss of each tenth of training, for the log."""
    params = [p for name, p in model.named_parameters() if not name.startswith(("compressor", "copy_head"))]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.01)
    gen = torch.Generator().manual_seed(seed)
    model.train()
    losses, curve = [], []
    order = torch.randperm(len(docs), generator=gen)
    for step in range(steps):
        start = (step * batch_size) % max(1, len(docs) - batch_size + 1)
        idx = order[start: start + batch_size]
        one_hot, mask, ids = model.hard_summary(summaries[idx])  # (B, S, V), (B, S), (B, S)
        # cut to the batch's longest document: the columns after it are padding, which the loss skips
        loss = model.reconstruction_loss(one_hot, mask, trim(docs[idx], model.vocab.pad_id), ids)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        losses.append(loss.item())
        if (step + 1) % max(1, steps // 10) == 0:
            curve.append(round(sum(losses) / len(losses), 4))
            losses = []
    model.eval()
    return curve


@torch.no_grad()
def description_per_document(model, extractor: Extractor, summaries: torch.Tensor, docs: torch.Tensor,
                             pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Nats of sending each summary (N, S) under the real texts' LM, and then its document (N, L) under the
    reconstructor given it: (summary part (N,), document part (N,))."""
    wid, ok = extractor.word_ids(summaries)
    summary_logp, _ = extractor.lm.text_log_prob(wid, ok)  # (N,) log P_real(<s> s </s>)
    doc_tokens = (model.rec_target(docs) != pad_id).sum(1).float()  # (N,) the reconstructor predicts these, EOS too
    # documents of like length together, each chunk cut to its longest (~16k tokens of (rows, L, V) logits at a
    # time): padded to the longest document of all, most columns of a corpus of paragraphs would be padding (the
    # NLL of each document is the same)
    chunks = length_chunks(docs, pad_id, tokens=4 * SEARCH_BATCH_TOKENS, max_rows=len(docs))
    order = torch.cat(chunks)
    parts = [model.reconstruction_nll(summaries[chunk], trim(docs[chunk], pad_id)) for chunk in chunks]
    nll = torch.cat(parts)[torch.argsort(order).to(parts[0].device)]  # (N,) per token, in the documents' order
    return -summary_logp.to(nll.device), nll * doc_tokens.to(nll.device)


def description_nats(model, extractor: Extractor, summaries: torch.Tensor, docs: torch.Tensor,
                     pad_id: int) -> tuple[float, float]:
    """Mean nats per document of sending the summaries (N, S) under the real texts' LM, and then the documents
    (N, L) under the reconstructor given them: (summary part, document part)."""
    summary, document = description_per_document(model, extractor, summaries, docs, pad_id)
    return float(summary.mean()), float(document.mean())


def train_judge(cfg: Config, tokenizer, extractor: Extractor, fit: torch.Tensor, grid: list[tuple[float, float]], *,
                words: int, steps: int, batch_size: int, seed: int = 0, size: dict | None = None, echo=print):
    """The judge (JUDGE's size, updated by `size`) trained on the extractions of documents fit (N, L) at every grid
    setting at once, so it favours none of them: (model, vocab)."""
    torch.manual_seed(seed)
    model, _, vocab = build_models(judge_config(cfg, size), tokenizer)
    fit_sets = extractions_at(extractor, fit, torch.full((len(fit),), words), grid, cfg.model.max_summary_tokens)
    curve = fit_judge(model, torch.cat(fit_sets), fit.repeat(len(grid), 1), steps=steps, batch_size=batch_size,
                      lr=1e-3, seed=seed)
    echo(f"teacher criterion: judge reconstructor trained {steps} steps on {len(grid)} x {len(fit)} extractions, "
         f"loss {curve[0]} -> {curve[-1]}")
    return model, vocab


def choose_teacher(cfg: Config, tokenizer, extractor: Extractor, docs: torch.Tensor, grid: list[tuple[float, float]],
                   *, words: int, fit_docs: int = 4000, score_docs: int = 1000, steps: int = 600,
                   batch_size: int = 64, seed: int = 0, echo=print) -> TeacherChoice:
    """The grid setting (alpha, beta) whose extractions describe held-out documents in the fewest nats.

    docs (N, L): training documents, as the model reads them (EOS, pad). The first fit_docs train the judge on
    every setting's extractions; the next score_docs score each setting. No references are read."""
    if len(docs) < fit_docs + score_docs:
        fit_docs = max(1, len(docs) * 4 // 5)
        score_docs = len(docs) - fit_docs
    begin = time.perf_counter()
    max_tokens = cfg.model.max_summary_tokens
    fit, held = docs[:fit_docs], docs[fit_docs: fit_docs + score_docs]
    model, vocab = train_judge(cfg, tokenizer, extractor, fit, grid, words=words, steps=steps,
                               batch_size=batch_size, seed=seed, echo=echo)
    table = []
    for (a, b), picked in zip(grid, extractions_at(extractor, held, torch.full((len(held),), words), grid, max_tokens)):
        summary, document = description_nats(model, extractor, picked, held, vocab.pad_id)
        table.append({"alpha": a, "beta": b, "summary_nats": round(summary, 3), "document_nats": round(document, 3),
                      "description_nats": round(summary + document, 3)})
    best = min(table, key=lambda row: row["description_nats"])
    return TeacherChoice(alpha=best["alpha"], beta=best["beta"], table=table,
                         seconds=round(time.perf_counter() - begin, 1))


def search_teacher(cfg: Config, tokenizer, extractor: Extractor, docs: torch.Tensor,
                   grid: list[tuple[float, float]] | None = None, *, seed: int, echo=print) -> TeacherChoice:
    """train.teacher_search's choice among grid (default SEARCH_GRID): choose_teacher on SEARCH_FIT_DOCS +
    SEARCH_SCORE_DOCS of docs (N, L) drawn with seed, at the summary's default length and the search's steps and
    batch. The trainer and benchmarks/experiments/criterion_grid.py search alike through it."""
    size = SEARCH_FIT_DOCS + SEARCH_SCORE_DOCS
    pool = docs[torch.randperm(len(docs), generator=torch.Generator().manual_seed(seed))[:size]].long()
    return choose_teacher(cfg, tokenizer, extractor, pool, grid or SEARCH_GRID, words=cfg.summary.default_words,
                          fit_docs=SEARCH_FIT_DOCS, score_docs=SEARCH_SCORE_DOCS, steps=SEARCH_STEPS,
                          batch_size=max(8, SEARCH_BATCH_TOKENS // docs.shape[1]), seed=seed, echo=echo)


def token_f1(ids: torch.Tensor, reference: torch.Tensor, skip: tuple[int, ...], vocab: int) -> torch.Tensor:
    """Unigram F1 of each row of ids (B, S) against the same row of reference (B, S'), token ids < vocab, over
    token counts (clipped matches), leaving out the `skip` tokens (padding, EOS): (B,) in [0, 1]; 0 where nothing
    matches (an empty row too)."""

    def counts(rows):
        keep = torch.ones_like(rows, dtype=torch.bool)
        for token in skip:
            keep &= rows != token
        return torch.zeros(rows.shape[0], vocab, device=rows.device).scatter_add_(1, rows, keep.float())

    a, b = counts(ids), counts(reference)
    match = torch.minimum(a, b).sum(1)
    size_a, size_b = a.sum(1), b.sum(1)
    return torch.where(match > 0, 2 * match / (size_a + size_b).clamp(min=1), torch.zeros_like(match))
