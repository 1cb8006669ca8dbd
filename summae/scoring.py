"""Novelty scores: how badly the auto-encoder rebuilds a document from its own summary.

The score of a document is the mean token negative log-likelihood (nats/token) of the reconstructor
rebuilding the document from the compressor's greedy summary at the model's default length
(`summary.default_words`): the same quantity training minimizes. Documents like the training data
rebuild well (low scores); documents unlike it - another domain, another language, shuffled words -
rebuild badly (high scores). It is the auto-encoder's classic second use: anomaly or novelty detection.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from pathlib import Path

import torch

from summae.decode.rules import words_for_request
from summae.errors import SummaeError
from summae.output import annotate_file
from summae.model.build import load_for_inference
from summae.runtime import pick_device
from summae.tokenization import encode_texts, pad_ids


class Scorer:
    """`Scorer.from_pretrained(path)(["text", ...])` -> one reconstruction loss per text (None for blank text)."""

    def __init__(self, cfg, tokenizer, model, device: str | torch.device = "cpu"):
        if model.reconstructor is None:
            raise SummaeError("scoring needs the model's reconstructor")
        self.cfg, self.tokenizer = cfg, tokenizer
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()

    @classmethod
    def from_pretrained(cls, path: str | Path, *, device: str = "auto") -> "Scorer":
        cfg, tokenizer, model = load_for_inference(path, with_reconstructor=True)
        return cls(cfg, tokenizer, model, device=pick_device(device))

    def __call__(self, texts: list[str], *, batch_size: int = 64) -> list[float | None]:
        return list(self.stream(texts, batch_size=batch_size))

    def stream(self, texts: Iterable[str], *, batch_size: int = 64) -> Iterator[float | None]:
        """Scores in input order, one batch of texts in memory at a time."""
        if batch_size < 1:
            raise SummaeError(f"--batch-size must be >= 1, got {batch_size}")
        batch: list[str] = []
        for text in texts:
            batch.append(text)
            if len(batch) == batch_size:
                yield from self._batch(batch)
                batch = []
        if batch:
            yield from self._batch(batch)

    @torch.no_grad()
    def _batch(self, texts: list[str]) -> list[float | None]:
        model, vocab = self.model, self.model.vocab
        width = self.cfg.model.max_source_tokens  # longer documents are scored on their first width - 1 tokens
        ids, _ = encode_texts(self.tokenizer, [t if t.strip() else "" for t in texts], width - 1)
        docs = pad_ids(ids, eos_id=vocab.eos_id, pad_id=vocab.pad_id, width=width).to(self.device)  # (B, L)
        doc_words = model.word_start[docs].sum(1)  # (B,)
        target = words_for_request(doc_words, words=self.cfg.summary.default_words, ratio=None,
                                   max_words=self.cfg.summary.max_words)
        comp_ids, comp_mask = model.compressor_inputs(docs, docs != vocab.pad_id, target)
        summaries = model.write_summary(comp_ids, comp_mask, target)  # (B, S) greedy
        nll = model.reconstruction_nll(summaries, docs).tolist()  # (B,) nats/token
        # a blank line has nothing to rebuild: no score rather than the loss of a lone EOS
        return [round(n, 4) if t.strip() else None for n, t in zip(nll, texts)]


def format_score(score: float | None) -> str:
    return "nan" if score is None or not math.isfinite(score) else f"{score:.4f}"


def score_file(scorer: Scorer, input_path: str, output_path: str | None, *, batch_size: int = 64,
               field: str = "document", output_field: str = "score", overwrite: bool = False,
               fmt: str | None = None, skip_bad: bool = False, progress: bool = True, encoding: str = "utf-8") -> dict:
    """txt in -> one score per line out ("nan" for blank lines); jsonl in -> the records plus `output_field`
    (null for blank documents). Returns counts and the mean score."""
    scores: list[float] = []

    def produce(texts: Iterable[str]) -> Iterator[float | None]:
        for score in scorer.stream(texts, batch_size=batch_size):
            if score is not None:
                scores.append(score)
            yield score

    counts = annotate_file(input_path, output_path, produce, field=field, output_field=output_field,
                           overwrite=overwrite, fmt=fmt, skip_bad=skip_bad, encoding=encoding, progress=progress,
                           as_line=format_score)
    return {**counts, "scored": len(scores), "mean": sum(scores) / len(scores) if scores else None}
