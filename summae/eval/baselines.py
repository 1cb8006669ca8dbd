"""Baselines: the first N words (Lead-N), the first N sentences and the first N bytes of each document."""

from __future__ import annotations

from summae.errors import SummaeError
from summae.sentences import split_sentences


def _check_n(n, what: str) -> None:
    # bool is an int subclass; `lead=True` is a user mistake, not "lead 1".
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise SummaeError(f"{what} must be an integer >= 1, got {n!r}")


def lead_words(document: str, n: int) -> str:
    """The first `n` whitespace-separated words of `document`, joined by single spaces."""
    _check_n(n, "lead")
    return " ".join(document.split()[:n])


def lead_sentences(document: str, n: int) -> str:
    """The first `n` sentences of `document` (summae.sentences), whitespace collapsed to single spaces.

    Collapsed as lead_words is: a sentence that spans lines must still be one output line. A document
    without sentence punctuation is one sentence, so its Lead-1-sentence is the whole document.
    """
    _check_n(n, "lead_sentences")
    return " ".join(" ".join(split_sentences(document)[:n]).split())


def prefix_bytes(document: str, n: int) -> str:
    """The first `n` UTF-8 bytes of `document`, without a broken trailing character, stripped.

    Leading whitespace is dropped before cutting: it carries no content and should not use up the budget.
    A multi-byte character that straddles the cut is dropped whole (decode with errors="ignore" only ever
    removes the incomplete tail, because the input itself is valid UTF-8).
    """
    _check_n(n, "prefix")
    cut = document.strip().encode("utf-8")[:n]
    return cut.decode("utf-8", errors="ignore").rstrip()


def baseline_summaries(documents: list[str], *, lead: int | None = None, lead_sentences: int | None = None,
                       prefix: int | None = None) -> list[str]:
    """Lead-N words (`lead=N`), the first N sentences (`lead_sentences=N`) or the first N bytes (`prefix=N`);
    exactly one of the three."""
    given = {name: n for name, n in (("lead", lead), ("lead_sentences", lead_sentences), ("prefix", prefix))
             if n is not None}
    if len(given) != 1:
        raise SummaeError("pass exactly one of lead (words), lead_sentences or prefix (bytes) for a baseline")
    (name, n), = given.items()
    return [_KINDS[name](doc, n) for doc in documents]


# by keyword: inside baseline_summaries, `lead_sentences` is the argument, not the function
_KINDS = {"lead": lead_words, "lead_sentences": lead_sentences, "prefix": prefix_bytes}
