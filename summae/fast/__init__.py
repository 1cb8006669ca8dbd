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
| bart.labelled_nll (head on labels only) | model.autoencoder.SummaeModel.reconstruction_loss | token_nll(logits, labels) |
| static_cache.StaticDecoder (off unless STATIC_CACHE) | decode.greedy.write_summary | transformers' incremental decoding |
| cuda_graphs.GraphedWriter (off by default) | train.cuda_graphs, Summarizer on CUDA | decode.greedy.write_summary |

The first seven were measured faster where they run (docs/performance.md) and are on; the static cache was
within 5% of transformers' own decoding on the CPU, so transformers' decoding writes summaries unless
`STATIC_CACHE` is set (or CUDA graphs, which need it, are on); `reference_paths()` turns
every one of them off, which is what the equivalence tests compare against. CUDA graphs are off by default
(`train.cuda_graphs: false`, `Summarizer(cuda_graphs=False)`) until a GPU measurement shows their gain.
"""

from __future__ import annotations

from contextlib import contextmanager

ENABLED = True  # False: every seam takes its reference path
# the static KV cache writes summaries only where it was measured faster than transformers' own decoding by more
# than 5% (benchmarks/experiments/static_cache.py): not on the CPU (static-cache-20261205-cpu2.json: 1.033x),
# not yet on a GPU. CUDA-graph decoding needs it and turns it on for the loops it captures.
STATIC_CACHE = False


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
