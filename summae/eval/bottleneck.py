"""Measures of the middle sequence as a bottleneck: does it keep the document's word order, and does the
reconstruction carry more of the document than the summary alone does?

Pure text functions; summae.pipeline runs the model and feeds them.
"""

from __future__ import annotations

from collections import Counter
from itertools import cycle, islice

from summae.eval.readability import content_words
from summae.eval.rouge import rouge_scores


def word_order_score(summaries: list[str], documents: list[str]) -> float:
    """Share of consecutive summary word pairs (a, b), both in the document, where some occurrence of b follows
    some occurrence of a (first a before last b). An in-order extraction scores 1.0. Pairs are pooled over all
    summaries; with no such pair at all the score is 1.0."""
    pairs = kept = 0
    for summary, document in zip(summaries, documents, strict=True):
        first: dict[str, int] = {}
        last: dict[str, int] = {}
        for i, word in enumerate(content_words(document)):
            first.setdefault(word, i)
            last[word] = i
        said = content_words(summary)
        for a, b in zip(said, said[1:]):
            if a in first and b in first:
                pairs += 1
                kept += first[a] < last[b]
    return kept / pairs if pairs else 1.0


def frequent_words(documents: list[str], n: int = 50) -> list[str]:
    """The corpus's n most frequent words (ties by first appearance)."""
    return [w for w, _ in Counter(w for d in documents for w in content_words(d)).most_common(n)]


def padded(summary: str, length: int, filler: list[str]) -> str:
    """The summary padded to `length` words with the filler words, cycled: what a reconstruction that learned
    only the corpus's frequent words would add to the summary."""
    said = content_words(summary)
    return " ".join(said + list(islice(cycle(filler or ["the"]), max(0, length - len(said)))))


def reconstruction_rouge(documents: list[str], summaries: list[str], reconstructions: list[str],
                         filler: list[str]) -> dict[str, float]:
    """ROUGE-1 F1 against the document of: the reconstruction, the summary itself, and the summary padded to the
    document's length with the corpus's frequent words. A reconstruction that beats both carries content the
    summary alone does not show."""
    refs = [[d] for d in documents]
    pads = [padded(s, len(content_words(d)), filler) for s, d in zip(summaries, documents, strict=True)]
    return {"reconstruction_rouge1": rouge_scores(reconstructions, refs)["rouge1"],
            "summary_rouge1": rouge_scores(summaries, refs)["rouge1"],
            "padded_summary_rouge1": rouge_scores(pads, refs)["rouge1"]}
