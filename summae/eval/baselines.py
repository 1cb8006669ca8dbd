"""Baselines: the first N words (Lead-N) and the first N bytes of each document."""

from __future__ import annotations

from summae.errors import SummaeError


def _check_n(n, what: str) -> None:
    # bool is an int subclass; `lead=True` is a user mistake, not "lead 1".
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise SummaeError(f"{what} must be an integer >= 1, got {n!r}")


def lead_words(document: str, n: int) -> str:
    """The first `n` whitespace-separated words of `document`, joined by single spaces."""
    _check_n(n, "lead")
    return " ".join(document.split()[:n])


def prefix_bytes(document: str, n: int) -> str:
    """The first `n` UTF-8 bytes of `document`, without a broken trailing character, stripped.

    Leading whitespace is dropped before cutting: it carries no content and should not use up the budget.
    A multi-byte character that straddles the cut is dropped whole (decode with errors="ignore" only ever
    removes the incomplete tail, because the input itself is valid UTF-8).
    """
    _check_n(n, "prefix")
    cut = document.strip().encode("utf-8")[:n]
    return cut.decode("utf-8", errors="ignore").rstrip()


def baseline_summaries(
    documents: list[str], *, lead: int | None = None, prefix: int | None = None
) -> list[str]:
    """Lead-N words (`lead=N`) or first-N-bytes (`prefix=N`) summaries; exactly one of the two."""
    if (lead is None) == (prefix is None):
        raise SummaeError("pass exactly one of lead (words) or prefix (bytes) for a baseline")
    if lead is not None:
        return [lead_words(doc, lead) for doc in documents]
    return [prefix_bytes(doc, prefix) for doc in documents]
