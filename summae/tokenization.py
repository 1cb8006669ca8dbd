"""One SentencePiece model, trained on the training text and exposed as a transformers tokenizer.

The tokenizer also carries the length-control tokens `<len_1>` ... `<len_N>` that tell the compressor
how many words to write. Saved with `save_pretrained`, it loads with plain `AutoTokenizer`.
"""

from __future__ import annotations

import io
import logging
import random
import tempfile
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import torch

from summae.errors import SummaeError

log = logging.getLogger(__name__)

WORD_START_MARKERS = ("\u2581", "\u0120")  # SentencePiece "▁", byte-level BPE "Ġ"


def length_token(words: int) -> str:
    return f"<len_{words}>"


def train_sentencepiece(texts: Iterable[str], *, vocab_size: int, max_words: int, character_coverage: float = 1.0):
    """Train a unigram SentencePiece model on `texts`; returns a transformers T5Tokenizer (fast) around it.

    Ids follow the T5 convention: pad 0, eos 1, unk 2; the length tokens are appended as special tokens.
    """
    import sentencepiece as spm
    from transformers import T5Tokenizer

    sentences = [t for t in texts if t and t.strip()]
    if len(sentences) < 10:
        raise SummaeError(f"need at least 10 non-empty texts to train a tokenizer, got {len(sentences)}")
    model = io.BytesIO()
    try:
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(sentences), model_writer=model, vocab_size=vocab_size, model_type="unigram",
            pad_id=0, eos_id=1, unk_id=2, bos_id=-1, character_coverage=character_coverage,
            hard_vocab_limit=False,  # small corpora cannot always fill the requested vocabulary
            num_threads=max(1, torch.get_num_threads()), minloglevel=2,
        )
    except RuntimeError as err:
        raise SummaeError(f"SentencePiece training failed: {str(err).splitlines()[0]}") from None
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "spiece.model").write_bytes(model.getvalue())
        tokenizer = T5Tokenizer.from_pretrained(tmp, extra_ids=0, legacy=False)
    add_length_tokens(tokenizer, max_words)
    return tokenizer


def add_length_tokens(tokenizer, max_words: int) -> None:
    """Make sure `<len_1>..<len_max_words>` exist as single special tokens (a loaded tokenizer may lack them)."""
    from tokenizers import AddedToken

    wanted = [length_token(k) for k in range(1, max_words + 1)]
    missing = [t for t in wanted if t not in tokenizer.get_vocab()]
    if missing:
        # add_tokens(special_tokens=True) is stable across transformers 5.x (add_special_tokens' keywords are not)
        tokenizer.add_tokens([AddedToken(t, special=True, normalized=False) for t in missing], special_tokens=True)
    if tokenizer.pad_token is None:
        tokenizer.add_special_tokens({"pad_token": "<pad>"})
    if tokenizer.eos_token is None:
        raise SummaeError("the tokenizer has no end-of-sequence token; summae needs one")


def load_tokenizer(path: str, *, max_words: int):
    """A saved tokenizer directory (or hub name), with the length tokens added if missing."""
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(path)
    except (OSError, ValueError) as err:
        raise SummaeError(f"cannot load a tokenizer from {path!r}: {str(err).splitlines()[0]}") from None
    add_length_tokens(tokenizer, max_words)
    return tokenizer


def sample_texts(dataset, limit: int, seed: int) -> list[str]:
    """Up to `limit` texts of a datasets (Iterable)Dataset with a "text" column, reproducibly sampled."""
    if hasattr(dataset, "__len__"):
        n = len(dataset)
        idx = list(range(n)) if n <= limit else sorted(random.Random(seed).sample(range(n), limit))
        return list(dataset.select(idx)["text"])  # datasets 5 returns a lazy Column: make it a list
    out = []
    for row in dataset:
        out.append(row["text"])
        if len(out) >= limit:
            break
    return out


class VocabInfo:
    """What the length rules need to know about each vocabulary entry, as tensors on one device."""

    def __init__(self, tokenizer, vocab_size: int, max_words: int):
        pieces = tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))
        specials = set(tokenizer.all_special_ids)
        self.eos_id = tokenizer.eos_token_id
        self.pad_id = tokenizer.pad_token_id
        self.unk_id = tokenizer.unk_token_id if tokenizer.unk_token_id is not None else self.pad_id
        # the token that starts the compressor's decoder; T5-style tokenizers have no BOS, so pad does it
        self.start_id = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else self.pad_id
        self.length_ids = [tokenizer.convert_tokens_to_ids(length_token(k)) for k in range(1, max_words + 1)]
        word_start = torch.zeros(vocab_size, dtype=torch.bool)
        banned = torch.zeros(vocab_size, dtype=torch.bool)
        for i, piece in enumerate(pieces):
            if i >= vocab_size:
                break
            if piece is not None and piece.startswith(WORD_START_MARKERS):
                word_start[i] = True
            if i in specials and i != self.eos_id:
                banned[i] = True  # pad, unk and other special tokens: never part of a summary
        banned[self.length_ids] = True  # length tokens steer the compressor; they are never written
        for i, piece in enumerate(pieces[:vocab_size]):
            if piece in WORD_START_MARKERS:
                # a lone "▁" followed by another word start (or EOS) decodes to no word, so it would break
                # the word count of the length rules: summaries spell words with pieces that carry text
                banned[i] = True
        if self.unk_id is not None:
            banned[self.unk_id] = True
        banned[len(pieces):] = True  # rows of the embedding matrix that no token uses
        self.word_start = word_start  # (V,) bool: this piece begins a new word
        self.banned = banned  # (V,) bool: never generated

    def to(self, device) -> "VocabInfo":
        self.word_start = self.word_start.to(device)
        self.banned = self.banned.to(device)
        return self


# characters kept before tokenizing: far more than max tokens, so truncation is decided on tokens,
# but a 1 MB single-line document does not cost a 1 MB tokenization
CHARS_PER_TOKEN_BOUND = 16


def rust_tokenizer(tokenizer):
    """The Rust `tokenizers.Tokenizer` behind a transformers fast tokenizer, or None (a slow, Python one).

    A fast tokenizer's `tokenizer(texts)` and `batch_decode(ids)` call it and then build Python objects around
    its output (dicts of lists, attention masks): for one-line documents that costs as much as the
    tokenizing itself, on one core, while the Rust part runs on all of them (docs/performance.md)."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None or not hasattr(backend, "encode_batch") or getattr(tokenizer, "split_special_tokens", False):
        return None
    if getattr(backend, "truncation", None) is not None or getattr(backend, "padding", None) is not None:
        return None  # a saved tokenizer.json may switch these on; tokenizer(...) switches them off per call
    return backend


def encode_texts(tokenizer, texts: list[str], max_tokens: int) -> tuple[list[list[int]], int]:
    """Token ids without special tokens, cut to max_tokens; also the number of texts that were cut. The ids
    are `tokenizer(texts, add_special_tokens=False)["input_ids"]`, read from the Rust tokenizer directly
    where there is one."""
    clipped = [t[: max_tokens * CHARS_PER_TOKEN_BOUND] for t in texts]
    backend = rust_tokenizer(tokenizer)
    if backend is not None:
        encode = getattr(backend, "encode_batch_fast", backend.encode_batch)  # _fast: no character offsets
        ids = [e.ids for e in encode(clipped, add_special_tokens=False)]
    else:
        ids = tokenizer(clipped, add_special_tokens=False)["input_ids"]
    cut = sum(len(x) > max_tokens for x in ids)
    return [x[:max_tokens] for x in ids], cut


def decode_texts(tokenizer, ids) -> list[str]:
    """tokenizer.batch_decode(ids, skip_special_tokens=True), from the Rust tokenizer where there is one.
    ids: a (B, T) tensor, or a list of id lists or 1-d tensors (what batch_decode takes)."""
    ids = ids.tolist() if isinstance(ids, torch.Tensor) else [x.tolist() if isinstance(x, torch.Tensor) else x
                                                              for x in ids]
    backend = rust_tokenizer(tokenizer)
    if backend is None or getattr(tokenizer, "clean_up_tokenization_spaces", False):
        # the clean-up is Python, and transformers versions differ in where they apply it
        return tokenizer.batch_decode(ids, skip_special_tokens=True)
    return backend.decode_batch(ids, skip_special_tokens=True)


def pad_ids(rows: list[list[int]], *, eos_id: int, pad_id: int, width: int) -> torch.Tensor:
    """Rows + EOS, padded to `width` columns: list of lists -> (N, width) long tensor."""
    # rows written into one numpy array: faster than torch.tensor over padded Python lists, which converts
    # every Python int one by one, and a GPU batch pads thousands of rows (benchmarks/experiments/tokenizing.py)
    out = np.full((len(rows), width), pad_id, dtype=np.int64)
    for i, row in enumerate(rows):
        row = row[: width - 1]
        out[i, : len(row)] = row
        out[i, len(row)] = eos_id
    return torch.from_numpy(out)
