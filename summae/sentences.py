"""Sentence splitting: one seam over sentencex, a rule-based splitter that needs no download at run time.

Why sentencex (Wikimedia's): it is maintained, ships wheels for every platform summae supports, knows
abbreviations ("Dr.", "e.g.", "U.S.") in ~300 languages, and its Rust core splits a 750 kB document in
milliseconds. pysbd gives the same splits on the bundled corpus but is unmaintained, takes ~40 s on that
document (its rules are superlinear), and installs top-level `benchmarks` and `examples` packages that
shadow folders of the same name. NLTK's Punkt needs its model downloaded at run time.
"""

from __future__ import annotations

import re

import sentencex

LANGUAGE = "en"  # ISO 639 code; sentencex falls back to its generic rules for a language it does not know
_SURROGATE = re.compile("[\ud800-\udfff]")  # a lone surrogate cannot cross into sentencex's Rust (UTF-8) core
# sentencex 1.0.32 panics (a Rust PanicException, not an Exception) on a multi-byte space before a full stop after
# an abbreviation-like word ("U\u00a0."): every space other than ASCII's goes in as " ", which no split rule tells apart
_WIDE_SPACE = re.compile(r"[^\S \t\n\r\f\v]")


def split_sentences(text: str, *, language: str = LANGUAGE) -> list[str]:
    """The sentences of `text`, in order, each stripped of surrounding whitespace; none are empty.

    Text without sentence punctuation is one sentence; empty or blank text has none. A blank line always
    ends a sentence (a heading without a full stop does not swallow the next paragraph's first sentence).
    """
    if not isinstance(text, str):
        raise TypeError(f"split_sentences takes a str, got {type(text).__name__}")
    if not text.strip():
        return []
    text = _WIDE_SPACE.sub(" ", text)
    try:
        pieces = list(sentencex.segment(language, text))
    except UnicodeEncodeError:  # only lone surrogates (text from Python, never from summae's readers)
        pieces = list(sentencex.segment(language, _SURROGATE.sub("\ufffd", text)))
    return [s for s in (piece.strip() for piece in pieces) if s]
