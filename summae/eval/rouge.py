"""ROUGE evaluation, DUC mode, lead / prefix baselines and plain-text reports.

Scores come from Google's `rouge-score` package (ROUGE-1/2/L, Porter stemming, rougeL not rougeLsum).
Implementations differ by points (ROUGE-1.5.5, rougeLsum, no stemming), so every number summae reports is
computed here, one way:

- default ("f1"): F1 per (hypothesis, reference) pair, averaged over the document's references, then over
  documents (Gigaword-style evaluation);
- duc=True ("duc-recall-75b"): hypothesis and references are first cut to 75 UTF-8 bytes, and recall is
  averaged instead (DUC-2003/2004 task 1 style).

ROUGE is returned in percent, rounded to 2 decimals, next to the mean summary length in words, because
Gigaword ROUGE F1 rises with length and scores are only comparable at equal length.
"""

from __future__ import annotations

import functools
import warnings

from rouge_score import rouge_scorer

from summae.errors import SummaeError
from summae.eval.baselines import prefix_bytes
from summae.io import read_texts

ROUGE_TYPES = ("rouge1", "rouge2", "rougeL")
DUC_BYTES = 75  # DUC task 1 scores the first 75 bytes of each summary
NON_LATIN_WARNING = "most text is non-Latin; rouge-score ignores it, so these scores are meaningless"
_MIN_KEPT_FRACTION = 0.5  # below this share of [A-Za-z0-9 ] characters, warn


@functools.lru_cache(maxsize=1)
def _scorer() -> rouge_scorer.RougeScorer:
    # Built lazily and once: nothing runs at import time, and the stemmer setup is not free.
    return rouge_scorer.RougeScorer(list(ROUGE_TYPES), use_stemmer=True)


def _kept_fraction(texts: list[str]) -> float:
    """Share of characters rouge-score can see: it lowercases, then keeps only [a-z0-9] as token text."""
    total = kept = 0
    for text in texts:
        total += len(text)
        kept += sum(1 for c in text if c.isascii() and (c.isalnum() or c.isspace()))
    return kept / total if total else 1.0


def _check_pairs(hyps: list[str], refs: list[list[str]]) -> None:
    if not hyps or not refs:
        raise SummaeError(f"nothing to score: got {len(hyps)} hypotheses and {len(refs)} reference lists")
    if len(hyps) != len(refs):
        raise SummaeError(f"got {len(hyps)} hypotheses but {len(refs)} reference lists; they must match")
    for i, doc_refs in enumerate(refs):
        # A bare string would be iterated character by character and score silently wrong.
        if isinstance(doc_refs, str) or not doc_refs:
            got = repr(doc_refs)[:60]
            raise SummaeError(f"refs[{i}] must be a non-empty list of reference strings, got {got}")


def rouge_scores(hyps: list[str], refs: list[list[str]], *, duc: bool = False) -> dict:
    """Corpus ROUGE-1/2/L of `hyps` against `refs` (refs[i] = the 1..k references of hyps[i]).

    Default: F1 per (hyp, ref) pair, averaged over the document's references, then over documents.
    duc=True: recall on the first 75 UTF-8 bytes of hypothesis and references, same averaging.
    Returns {"rouge1", "rouge2", "rougeL"} in percent (2 decimals), "words" (mean hypothesis words after
    any cut, 2 decimals), "n" (documents), and "warning" when most characters are invisible to rouge-score.
    """
    _check_pairs(hyps, refs)
    if duc:
        # Cut both sides: DUC references run past 75 bytes too, and uncut they would lower every recall.
        hyps = [prefix_bytes(h, DUC_BYTES) for h in hyps]
        refs = [[prefix_bytes(r, DUC_BYTES) for r in doc_refs] for doc_refs in refs]
    # DUC summaries have a fixed byte budget, so precision adds nothing; Gigaword lengths vary, so F1.
    measure = "recall" if duc else "fmeasure"
    scorer = _scorer()

    totals = dict.fromkeys(ROUGE_TYPES, 0.0)
    for hyp, doc_refs in zip(hyps, refs):
        # Mean over references, not max: each human reference counts equally (the RESEARCH.md protocol).
        doc = dict.fromkeys(ROUGE_TYPES, 0.0)
        for ref in doc_refs:
            scores = scorer.score(ref, hyp)  # rouge-score's order is (target, prediction)
            for key in ROUGE_TYPES:
                doc[key] += getattr(scores[key], measure)
        for key in ROUGE_TYPES:
            totals[key] += doc[key] / len(doc_refs)

    n = len(hyps)
    # Mean of per-document scores (macro average): every document counts once, however long its text.
    result = {key: round(100.0 * totals[key] / n, 2) for key in ROUGE_TYPES}
    # Words of what was scored (after any cut): length is the other half of every comparison.
    result["words"] = round(sum(len(h.split()) for h in hyps) / n, 2)
    result["n"] = n
    # rouge-score silently maps non-[a-z0-9] text to nothing; near-zero scores would look like a bad model.
    if _kept_fraction(hyps + [r for doc_refs in refs for r in doc_refs]) < _MIN_KEPT_FRACTION:
        result["warning"] = NON_LATIN_WARNING
        warnings.warn(NON_LATIN_WARNING, UserWarning, stacklevel=2)
    return result


def format_table(rows: dict[str, dict]) -> str:
    """A plain-text table, one row per name: name | R-1 | R-2 | R-L | words, 2 decimals, aligned."""
    header = ["name", "R-1", "R-2", "R-L", "words"]
    body = []
    for name, scores in rows.items():
        try:
            numbers = [scores[key] for key in (*ROUGE_TYPES, "words")]
        except KeyError as err:
            raise SummaeError(f"row {name!r} lacks {err.args[0]!r}; pass rouge_scores() results") from None
        body.append([str(name)] + [f"{x:.2f}" for x in numbers])
    widths = [max(len(row[i]) for row in [header] + body) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        # Name left-aligned, numbers right-aligned so decimal points line up.
        parts = [cells[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(cells[1:], widths[1:])]
        return " | ".join(parts).rstrip()

    rule = "-+-".join("-" * w for w in widths)
    return "\n".join([line(header), rule] + [line(row) for row in body])


def evaluate_files(
    hyps_path: str, refs_paths: list[str], *, duc: bool = False, field: str | None = None, encoding: str = "utf-8"
) -> dict:
    """Score a hypothesis file against one or more aligned reference files (line i of each = document i).

    Returns rouge_scores()'s dict plus "mode" ("duc-recall-75b" or "f1"), "hyps" and "refs" (the paths).
    "warning" also counts empty summaries and references (kept for alignment; they score 0).
    """
    if isinstance(refs_paths, str) or not refs_paths:
        raise SummaeError("pass at least one reference file (a list of paths)")
    # Reading stdin twice would give the second file zero lines and a confusing count mismatch.
    if [hyps_path, *refs_paths].count("-") > 1:
        raise SummaeError("stdin ('-') can be used for only one of the files")
    hyps = read_texts(hyps_path, field=field, encoding=encoding)
    if not hyps:
        raise SummaeError(f"{hyps_path if hyps_path != '-' else '<stdin>'} is empty: no summaries to score")
    ref_columns = [read_texts(path, field=field, encoding=encoding) for path in refs_paths]
    counts = [len(hyps)] + [len(column) for column in ref_columns]
    if len(set(counts)) > 1:
        listing = ", ".join(f"{p}: {c}" for p, c in zip([hyps_path, *refs_paths], counts))
        raise SummaeError(f"files have different line counts ({listing}); line i of each must match")
    # Transpose columns (one per reference file) into rows (the references of document i).
    refs = [list(doc_refs) for doc_refs in zip(*ref_columns)]
    result = rouge_scores(hyps, refs, duc=duc)
    blank = [sum(not t.strip() for t in column) for column in [hyps, *ref_columns]]
    if any(blank):  # empty lines stay (alignment) but drag the mean down: say how many there are
        notes = [f"{p}: {n} of {len(hyps)} lines are empty" for p, n in zip([hyps_path, *refs_paths], blank) if n]
        result["warning"] = "; ".join(([result["warning"]] if "warning" in result else []) + notes)
    result.update(mode="duc-recall-75b" if duc else "f1", hyps=hyps_path, refs=list(refs_paths))
    return result
