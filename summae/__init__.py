"""summae: unsupervised summarization with a text-bottleneck auto-encoder.

`from summae import Summarizer; Summarizer.from_pretrained(path)(["text", ...], words=10)`;
`Summarizer.from_pretrained(summae.READY_MODEL)` loads the small model shipped with the package, and
`Scorer` gives each document a novelty score (its reconstruction loss).
"""

from pathlib import Path

__version__ = "0.1.0"
__all__ = ["READY_MODEL", "Scorer", "Summarizer", "SummaeError", "__version__"]

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
    raise AttributeError(f"module 'summae' has no attribute {name!r}")
