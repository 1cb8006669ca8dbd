"""Readability, measured rather than assumed: how a set of summaries reads next to real headlines.

Three numbers per set of summaries (docs/quality.md puts them beside ROUGE, with and without the
discriminator):
- `lm_ppl`: perplexity under a word trigram language model fitted on the headline corpus (interpolated
  Kneser-Ney). Lower reads more like a headline. The same model scores the references and Lead-8, so the
  number has a scale: real headlines on one side, document prefixes on the other.
- `repeated`: share of summaries in which some word appears twice (a classic failure of neural decoders).
- `novel`: share of summary words that are not in the source document (0 = purely extractive).

A count-based LM on purpose: it is deterministic, fits 100k headlines in seconds on a CPU, has no
training budget to tune, and cannot be fooled by the summarizer's own tokenizer.
"""

from __future__ import annotations

import math
import re
from collections import Counter

WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*|[^\w\s]", re.UNICODE)
BOS, EOS, UNK = "<s>", "</s>", "<unk>"


def words(text: str) -> list[str]:
    """Lower-cased word and punctuation tokens."""
    return WORD.findall(text.lower())


def content_words(text: str) -> list[str]:
    return [w for w in words(text) if w[0].isalnum()]


def repeated_share(summaries: list[str]) -> float:
    """Share of non-empty summaries in which a (non-punctuation) word occurs more than once."""
    rows = [content_words(s) for s in summaries]
    rows = [r for r in rows if r]
    return sum(len(set(r)) < len(r) for r in rows) / max(len(rows), 1)


def novel_share(summaries: list[str], documents: list[str]) -> float:
    """Share of summary words (non-punctuation, all summaries pooled) absent from their own document."""
    novel = total = 0
    for summary, document in zip(summaries, documents, strict=True):
        source = set(content_words(document))
        for word in content_words(summary):
            total += 1
            novel += word not in source
    return novel / max(total, 1)


class TrigramLM:
    """Interpolated Kneser-Ney word trigram model (absolute discount `discount`), closed vocabulary:
    words seen fewer than `min_count` times in the corpus become <unk>."""

    def __init__(self, texts: list[str], *, discount: float = 0.75, min_count: int = 2):
        self.d = discount
        counts = Counter(w for text in texts for w in words(text))
        self.vocab = {w for w, c in counts.items() if c >= min_count} | {UNK, EOS}
        self.tri: Counter = Counter()
        for text in texts:
            seq = self._tokens(text)
            self.tri.update(zip(seq, seq[1:], seq[2:]))
        # context totals and type counts of the top order
        self.ctx2, self.follow2 = Counter(), Counter()
        for (u, v, _w), c in self.tri.items():
            self.ctx2[(u, v)] += c
            self.follow2[(u, v)] += 1
        # continuation counts for the lower orders: how many distinct left contexts a (v, w) or w follows
        self.cont2: Counter = Counter((v, w) for (_u, v, w) in self.tri)
        self.ctx1, self.follow1 = Counter(), Counter()
        for (v, _w), c in self.cont2.items():
            self.ctx1[v] += c
            self.follow1[v] += 1
        self.cont1: Counter = Counter(w for (_v, w) in self.cont2)
        self.cont1_total = sum(self.cont1.values())

    def _tokens(self, text: str) -> list[str]:
        return [BOS, BOS] + [w if w in self.vocab else UNK for w in words(text)] + [EOS]

    def _p1(self, w: str) -> float:
        # continuation unigram, interpolated with uniform so unseen (in-vocabulary) words keep some mass
        gamma = self.d * len(self.cont1) / self.cont1_total
        return max(self.cont1[w] - self.d, 0) / self.cont1_total + gamma / len(self.vocab)

    def _p2(self, v: str, w: str) -> float:
        total = self.ctx1.get(v, 0)
        if not total:
            return self._p1(w)
        gamma = self.d * self.follow1[v] / total
        return max(self.cont2.get((v, w), 0) - self.d, 0) / total + gamma * self._p1(w)

    def _p3(self, u: str, v: str, w: str) -> float:
        total = self.ctx2.get((u, v), 0)
        if not total:
            return self._p2(v, w)
        gamma = self.d * self.follow2[(u, v)] / total
        return max(self.tri.get((u, v, w), 0) - self.d, 0) / total + gamma * self._p2(v, w)

    def log_prob(self, text: str) -> tuple[float, int]:
        """Natural-log probability of the text (with its end) and the number of predicted tokens."""
        seq = self._tokens(text)
        return sum(math.log(self._p3(u, v, w)) for u, v, w in zip(seq, seq[1:], seq[2:])), len(seq) - 2

    def perplexity(self, texts: list[str]) -> float:
        total, n = 0.0, 0
        for text in texts:
            if not text.strip():
                continue
            lp, k = self.log_prob(text)
            total, n = total + lp, n + k
        return math.exp(-total / max(n, 1))


def readability(summaries: list[str], documents: list[str], lm: TrigramLM) -> dict[str, float]:
    """The three measures of one set of summaries (rounded for result JSONs)."""
    return {"lm_ppl": round(lm.perplexity(summaries), 1), "repeated": round(repeated_share(summaries), 4),
            "novel": round(novel_share(summaries, documents), 4)}
