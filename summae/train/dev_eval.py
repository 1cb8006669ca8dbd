"""What the trainer looks at while it trains: dev scores for best/ selection and a table of samples."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from summae.decode.rules import clean_summary, document_order, words_for_request
from summae.eval.rouge import rouge_scores
from summae.tokenization import decode_texts, encode_texts, pad_ids
from summae.train.batches import length_chunks, trim

EVAL_BATCH = 256  # documents per evaluation batch at most
# and at most this many (document token x vocabulary) scores per batch: the reconstructor's (B, L, V) table.
# 2**27 floats is 512 MiB: 256 documents of 64 tokens with an 8,000-piece vocabulary, 32 of 512 tokens
EVAL_SCORES = 2 ** 27


def eval_chunks(ids: torch.Tensor, pad_id: int, vocab_size: int) -> list[torch.Tensor]:
    """Row indices of a padded (N, L) id matrix in evaluation batches (batches.length_chunks): as many rows as
    EVAL_BATCH and EVAL_SCORES allow, so that the peak memory of an evaluation does not grow with the padding (a
    512-token limit on documents of 95 tokens on average)."""
    return length_chunks(ids, pad_id, tokens=EVAL_SCORES // max(vocab_size, 1), max_rows=EVAL_BATCH)


@dataclass
class DevSet:
    texts: list[str]
    refs: list[str] | None  # line-aligned references, or None (reference-free selection)
    ids: torch.Tensor  # (N, L) documents + EOS, padded
    words: int  # summary length used at evaluation: the default decoding's
    max_words: int
    tokenizer: object
    # the extraction search's summaries of these documents (train.pseudo=extract), else None: how close the
    # student writes to its teacher, a reference-free view logged beside the others (dev/teacher_r1)
    teacher: list[str] | None = None
    document_order: bool = False  # summary.document_order: dev summaries are scored as summae summarize writes them

    @property
    def criterion(self) -> str:
        if self.refs is not None:
            return "dev ROUGE: mean of R-1, R-2, R-L F1 (higher is better)"
        if self.teacher is not None:
            return ("reference-free: ROUGE-1 F1 of the summaries against the extraction search's on held-out "
                    "documents (teacher agreement; higher is better)")
        return ("reference-free: -(held-out reconstruction loss in nats/token + mean -log D(summary), the "
                "D term only when a discriminator is trained), higher is better")

    @classmethod
    def build(cls, texts, refs, tokenizer, vocab, cfg, extractor=None) -> "DevSet":
        texts = [t for t in texts]
        ids, _ = encode_texts(tokenizer, texts, cfg.model.max_source_tokens - 1)
        matrix = pad_ids(ids, eos_id=vocab.eos_id, pad_id=vocab.pad_id, width=cfg.model.max_source_tokens)
        teacher = None
        if extractor is not None:
            words = torch.full((matrix.shape[0],), cfg.summary.default_words)
            picked = extractor.targets(matrix, words, max_tokens=cfg.model.max_summary_tokens)  # (N, S)
            teacher = [t.strip() for t in decode_texts(tokenizer, picked.tolist())]
        return cls(texts, list(refs) if refs is not None else None, matrix, cfg.summary.default_words,
                   cfg.summary.max_words, tokenizer, teacher, cfg.summary.document_order)


@torch.no_grad()
def summarize_ids(model, ids: torch.Tensor, words: int, max_words: int):
    """Greedy summaries of a padded id matrix, in batches (eval_chunks), each cut to its longest document:
    returns (summary ids (N, S), word targets (N,)), in the rows' order."""
    summaries, targets, _ = _summarize(model, ids, words, max_words)
    return summaries, targets


def _summarize(model, ids: torch.Tensor, words: int, max_words: int):
    """summarize_ids, and the chunks it used (for evaluate_dev's reconstruction pass over the same batches)."""
    device, pad_id = model.word_start.device, model.vocab.pad_id
    chunks = eval_chunks(ids, pad_id, model.word_start.shape[0])
    summaries = torch.full((ids.shape[0], model.max_summary_tokens), pad_id, dtype=torch.long)
    targets = torch.zeros(ids.shape[0], dtype=torch.long)
    for rows in chunks:
        docs = trim(ids[rows], pad_id).to(device)
        mask = docs != pad_id
        target = words_for_request(model.word_start[docs].sum(1), words=words, ratio=None, max_words=max_words)
        comp_ids, comp_mask = model.compressor_inputs(docs, mask, target)
        written = model.write_summary(comp_ids, comp_mask, target).cpu()
        summaries[rows, : written.shape[1]] = written
        targets[rows] = target.cpu()
    return summaries, targets, chunks


@torch.no_grad()
def evaluate_dev(model, disc, dev: DevSet) -> dict:
    """Dev metrics: ROUGE when references exist, reconstruction loss and discriminator view always."""
    was_training = model.training
    model.eval()
    if disc is not None:
        disc.eval()
    summaries, targets, chunks = _summarize(model, dev.ids, dev.words, dev.max_words)
    device, pad_id = model.word_start.device, model.vocab.pad_id
    nll, d_pen = [], []
    for rows in chunks:  # the mean over all documents: the chunks' order does not matter
        s = summaries[rows].to(device)
        nll.append(model.reconstruction_nll(s, trim(dev.ids[rows], pad_id).to(device)).float())
        if disc is not None:
            d_pen.append(F.softplus(-disc(ids=s, mask=s != pad_id).float()))
    result = {"rec_nll": round(torch.cat(nll).mean().item(), 4)}
    # without a discriminator corpus D is never trained: its view would be noise in the criterion
    result["d_penalty"] = round(torch.cat(d_pen).mean().item(), 4) if d_pen else 0.0
    texts = decode(dev.tokenizer, summaries, targets, dev.texts if dev.document_order else None)
    if dev.teacher is not None:
        result["teacher_r1"] = rouge_scores(texts, [[t] for t in dev.teacher])["rouge1"]
    if dev.refs is not None:
        scores = rouge_scores(texts, [[r] for r in dev.refs])
        result.update({k: scores[k] for k in ("rouge1", "rouge2", "rougeL", "words")})
        result["score"] = round((scores["rouge1"] + scores["rouge2"] + scores["rougeL"]) / 3, 4)
    elif dev.teacher is not None:
        # without references, the checkpoint that writes most like the search it learned from: on the Debian
        # corpus the auto-encoding phase can pull summaries off both the teacher and the references together,
        # while its reconstruction loss keeps falling (docs/quality.md, "Which checkpoint best/ keeps")
        result["score"] = result["teacher_r1"]
    else:
        result["score"] = round(-(result["rec_nll"] + result["d_penalty"]), 4)
    model.train(was_training)
    if disc is not None:
        disc.train(was_training)
    return result


# train.span_bonus_search's candidates for summary.span_bonus (nats): from off to the point where Debian dev R-1 fell
SPAN_BONUS_GRID = (0.0, 0.5, 1.0, 2.0)


@torch.no_grad()
def choose_span_bonus(model, dev: DevSet, grid=None) -> tuple[float, list[dict]]:
    """train.span_bonus_search: the summary.span_bonus in `grid` whose greedy summaries of the held-out documents
    agree best with the extraction search's (ROUGE-1 F1; the smaller bonus on a tie); grid: SPAN_BONUS_GRID
    by default. No references are read.
    Returns (the bonus, one row per candidate: span_bonus, teacher_r1)."""
    grid = SPAN_BONUS_GRID if grid is None else grid
    if dev.teacher is None:
        raise ValueError("choose_span_bonus needs the extraction search's summaries of the dev documents")
    was_training, before = model.training, model.rules.span_bonus
    model.eval()
    rows = []
    try:
        for bonus in grid:
            model.rules.span_bonus = float(bonus)
            summaries, targets = summarize_ids(model, dev.ids, dev.words, dev.max_words)
            texts = decode(dev.tokenizer, summaries, targets, dev.texts if dev.document_order else None)
            rows.append({"span_bonus": float(bonus),
                         "teacher_r1": rouge_scores(texts, [[t] for t in dev.teacher])["rouge1"]})
    finally:
        model.rules.span_bonus = before
        model.train(was_training)
    best = max(rows, key=lambda row: (row["teacher_r1"], -row["span_bonus"]))
    return best["span_bonus"], rows


def decode(tokenizer, summaries: torch.Tensor, targets: torch.Tensor, documents: list[str] | None = None) -> list[str]:
    """Summary texts as `summae summarize` writes them (documents: put in their order, summary.document_order)."""
    texts = [clean_summary(t, int(k)) for t, k in zip(decode_texts(tokenizer, summaries.tolist()), targets.tolist())]
    return texts if documents is None else [document_order(t, d) for t, d in zip(texts, documents)]


@torch.no_grad()
def sample_table(model, dev: DevSet, tokenizer, n: int = 3) -> str:
    """DOCUMENT -> SUMMARY -> RECONSTRUCTION for the first n dev documents: words, or a private code?"""
    was_training = model.training
    model.eval()
    device = model.word_start.device
    docs = dev.ids[:n].to(device)
    summaries, targets = summarize_ids(model, docs, dev.words, dev.max_words)
    rebuilt = model.reconstruct_greedy(summaries, max_tokens=docs.shape[1])
    model.train(was_training)
    summary_texts = decode_texts(tokenizer, summaries.tolist())
    rebuilt_texts = decode_texts(tokenizer, rebuilt.tolist())
    lines = []
    for i in range(min(n, len(dev.texts))):
        lines += [f"  DOCUMENT       {dev.texts[i][:160]}",
                  f"  SUMMARY        {clean_summary(summary_texts[i], int(targets[i]))}",
                  f"  RECONSTRUCTION {rebuilt_texts[i][:160]}", ""]
    return "\n".join(["samples:"] + lines)
