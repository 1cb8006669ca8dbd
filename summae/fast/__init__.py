"""Fast paths, each behind one seam and tested equal to its reference path (tests/test_fast.py).

The reference code (summae.model, summae.decode) says what is computed; a fast path computes the same values
another way. Each is chosen at exactly one place:

| fast path | seam | reference |
|---|---|---|
| cpu_ops.masked_fill (uint8 arithmetic) | decode.rules.apply_mask | logits.masked_fill(forbid, -inf) |
| cpu_ops.first_argmax (chunked) | decode.rules.argmax | x.argmax(-1) |
| spelling.choose_spelled (no (B, V) mask) | decode.greedy.write_summary | rules.choose(apply_mask(scores, spelled)) |
| autograd.StraightThrough (fused backward) | model.bottleneck.straight_through | y_hard - y_soft.detach() + y_soft |
| autograd.HardEmbed (lookup) | model.bottleneck.soft_embed | one_hot @ E |
| bart.cross_projections_once | model.autoencoder.SummaeModel.teacher_forced | the BART decoder as it is |
| bart.labelled_nll (head on labels only) | model.autoencoder.SummaeModel.reconstruction_loss | \
token_nll(logits, labels) |
| static_cache.StaticDecoder (STATIC_CACHE) | decode.greedy.write_summary | transformers' incremental decoding |
| cuda_graphs.GraphedWriter (off by default) | train.cuda_graphs, Summarizer on CUDA | decode.greedy.write_summary |

The first eight were measured faster where they run (docs/performance.md) and are on; `reference_paths()` turns
every one of them off, which is what the equivalence tests compare against. CUDA graphs are off by default
(`train.cuda_graphs: false`, `Summarizer(cuda_graphs=False)`) until a GPU measurement shows their gain.
"""

from __future__ import annotations

from contextlib import contextmanager

ENABLED = True  # False: every seam takes its reference path
# the static KV cache writes summaries faster than transformers' own decoding (the same summaries) by more than
# the 5% that would make the library's piece the default, at the recipe's model size, batch and precision
# (ab_speed-20261205-cpu2-library-cache.json, static-cache-20261205-cpu2.json; docs/performance.md).
# False: transformers' decoding (CUDA graphs still capture the static loop).
STATIC_CACHE = True


def enabled() -> bool:
    return ENABLED


@contextmanager
def reference_paths():
    """Within: every fast path is off and the reference code runs (for equivalence tests and debugging)."""
    global ENABLED
    before = ENABLED
    ENABLED = False
    try:
        yield
    finally:
        ENABLED = before
