"""summae: unsupervised summarization with a text-bottleneck auto-encoder."""

__version__ = "0.1.0"
