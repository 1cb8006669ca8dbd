"""summae: unsupervised summarization with a text-bottleneck auto-encoder.

`from summae import Summarizer; Summarizer.from_pretrained(path)(["text", ...], words=10)`.
"""

__version__ = "0.1.0"
__all__ = ["Summarizer", "SummaeError", "__version__"]


def __getattr__(name: str):
    # lazy: `import summae` (and `summae --version`) must not pay for importing torch and transformers
    if name == "Summarizer":
        from summae.summarize import Summarizer

        return Summarizer
    if name == "SummaeError":
        from summae.errors import SummaeError

        return SummaeError
    raise AttributeError(f"module 'summae' has no attribute {name!r}")
