"""summae: unsupervised summarization with a text-bottleneck auto-encoder.

`from summae import Summarizer; Summarizer.from_pretrained(path)(["text", ...], words=10)`;
`Summarizer.from_pretrained(summae.READY_MODEL)` loads the small model shipped with the package, and
`Scorer` gives each document a novelty score (its reconstruction loss). On CPU, call
`summae.tune_cpu_allocator()` once first, as the CLI does: it keeps freed tensor memory in the process, so
training and summarizing stop re-faulting it page by page (summae/runtime.py; docs/performance.md).
"""

from pathlib import Path

__version__ = "0.1.0"
__all__ = ["READY_MODEL", "Scorer", "Summarizer", "SummaeError", "__version__", "tune_cpu_allocator"]

# the small model shipped with the package (scripts/build_ready_model.py): the CLI's default --model
READY_MODEL = Path(__file__).parent / "data" / "ready"


def __getattr__(name: str):
    # lazy: `import summae` (and `summae --version`) must not pay for importing torch and transformers
    if name == "Summarizer":
        from summae.summarize import Summarizer

        return Summarizer
    if name == "Scorer":
        from summae.scoring import Scorer

        return Scorer
    if name == "SummaeError":
        from summae.errors import SummaeError

        return SummaeError
    if name == "tune_cpu_allocator":  # the CLI's CPU speed-up, for scripts that summarize or train in-process
        from summae.runtime import tune_cpu_allocator

        return tune_cpu_allocator
    raise AttributeError(f"module 'summae' has no attribute {name!r}")
