"""Summaries from a trained model: a Python API and the batched, streaming file/stdin path of the CLI."""

from __future__ import annotations

import copy
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch

from summae.decode.rules import clean_summary, document_order, drop_cut_word, words_for_request
from summae.errors import SummaeError
from summae.fast.cuda_graphs import GraphedWriter, padded_width
from summae.io import FolderReader
from summae.output import annotate_file
from summae.model.build import load_for_inference
from summae.runtime import pick_device, release_free_memory, resolve_precision
from summae.tokenization import decode_texts, encode_texts, pad_ids


SORT_WINDOW = 16  # batches read ahead and sorted by length, so a batch pads to similar lengths
BATCH_SIZE = 256  # CPU default: bf16 summarizing is faster at 256 than at 64, no faster beyond (docs/performance.md)
GPU_BATCH_SIZE = 2048  # on a GPU (divided by --beams): the batch of benchmarks/throughput.py's GPU measurement


def default_batch_size(device: torch.device | str, beams: int = 1) -> int:
    """Documents per batch when none is given: 256 on the CPU, 2048 // beams (at least 16) on a GPU, where
    decoding is bound by the host's per-call work more than by the batch (docs/performance.md)."""
    if torch.device(device).type == "cuda":
        return max(16, GPU_BATCH_SIZE // max(1, beams))
    return BATCH_SIZE


def set_attention(model, implementation: str) -> None:
    """Switch a transformers model's attention implementation ("eager", "sdpa") in place."""
    if hasattr(model, "set_attn_implementation"):
        model.set_attn_implementation(implementation)
    else:  # older transformers
        model.config._attn_implementation = implementation


def _windows(texts: Iterable[str], size: int) -> Iterator[list[str]]:
    """The texts in lists of `size` (the last may be shorter), each checked to be a string."""
    window: list[str] = []
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise SummaeError(f"texts[{i}] is {type(text).__name__}, expected a string")
        window.append(text)
        if len(window) == size:
            yield window
            window = []
    if window:
        yield window


class Summarizer:
    """`Summarizer.from_pretrained(path)(["text", ...], words=10)` -> list of summaries.

    Default decoding: greedy, `summary.default_words` words (the training config's), under the length
    rules (the summary starts a word, never exceeds the word target, stops at it).
    """

    def __init__(self, cfg, tokenizer, model, device: str | torch.device = "cpu", precision: str = "fp32",
                 cuda_graphs: bool = False):
        """precision: fp32, bf16 or auto (see resolve_precision). Anything but fp32 converts the model's
        compressor to that dtype in place, so pass a model only this Summarizer uses (from_pretrained does).
        cuda_graphs: on a CUDA device, replay greedy decoding from CUDA graphs (summae.fast.cuda_graphs); the
        summaries are the same, the host launches one graph per batch instead of each kernel. Off unless
        asked: the gain has not been measured, and a GPU measurement must show it before it goes on."""
        self.cfg, self.tokenizer = cfg, tokenizer
        self.device = torch.device(device)
        self.precision = resolve_precision(precision, self.device)
        self.model = model.to(self.device).eval()
        if self.precision != "fp32":
            # the compressor's matmuls in bf16; the copy head computes its mixture in fp32 either way
            self.model.compressor.to(torch.bfloat16)
        if self.precision == "bf16" and self.device.type == "cpu":
            # the encoder's self-attention as matmuls and a softmax: the CPU flash-attention kernel tiles for
            # long sequences and is slower in bf16 at summary-input lengths (as in the decoding steps of
            # summae.fast.static_cache; docs/performance.md). Greedy decoding never uses transformers'
            # decoder attention
            set_attention(self.model.compressor, "eager")
        self.writer = None  # CUDA graphs of the greedy decoding (BART decoders: the static-cache loop only)
        if cuda_graphs and self.device.type == "cuda" and self.model.fast_decoding:
            self.writer = GraphedWriter(self.model)
        # tokenize the next window in a background thread while this one decodes: on a GPU the host is free
        # while the device works; on the CPU the decoding already uses every core
        self.prefetch = self.device.type == "cuda"
        self._ahead_tokenizer = None  # the background thread's tokenizer copy, made on first use
        self.truncated = 0  # documents cut to model.max_source_tokens so far (summarize_file reports it)

    @classmethod
    def from_pretrained(cls, path: str | Path, *, device: str = "auto", precision: str = "auto",
                        cuda_graphs: bool = False) -> "Summarizer":
        cfg, tokenizer, model = load_for_inference(path)
        return cls(cfg, tokenizer, model, device=pick_device(device), precision=precision, cuda_graphs=cuda_graphs)

    def __call__(self, texts: list[str], *, words: int | None = None, ratio: float | None = None,
                 beams: int = 1, batch_size: int | None = None) -> list[str]:
        """batch_size: documents per batch (default: default_batch_size(device, beams))."""
        return list(self.stream(texts, words=words, ratio=ratio, beams=beams, batch_size=batch_size))

    def check_request(self, *, words: int | None, ratio: float | None, beams: int, batch_size: int | None) -> None:
        limit = self.cfg.summary.max_words
        for name, value, kind in (("words", words, int), ("ratio", ratio, (int, float)), ("beams", beams, int),
                                  ("batch_size", batch_size, int)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, kind)):
                what = "a whole number" if kind is int else "a number"
                raise SummaeError(f"{name} must be {what}, got {value!r}")
        if words is not None and ratio is not None:
            raise SummaeError("give either --words or --ratio, not both")
        if words is not None and not 1 <= words <= limit:
            raise SummaeError(f"--words must be between 1 and {limit} (this model's summary.max_words), got {words}")
        if ratio is not None and not 0 < ratio <= 1:
            raise SummaeError(f"--ratio must be in (0, 1], got {ratio}")
        if beams < 1 or beams > 64:
            raise SummaeError(f"--beams must be between 1 and 64, got {beams}")
        if batch_size is not None and batch_size < 1:
            raise SummaeError(f"--batch-size must be >= 1, got {batch_size}")

    def stream(self, texts: Iterable[str], *, words=None, ratio=None, beams: int = 1,
               batch_size: int | None = None) -> Iterator[str]:
        """Summaries in input order, at most SORT_WINDOW batches of texts in memory at a time."""
        self.check_request(words=words, ratio=ratio, beams=beams, batch_size=batch_size)
        batch_size = default_batch_size(self.device, beams) if batch_size is None else batch_size
        if isinstance(texts, (str, bytes)):  # iterating it would summarize one character at a time
            raise SummaeError("pass a list of texts, not a single string: summarizer([text])")
        if words is None and ratio is None:
            words = self.cfg.summary.default_words
        windows = _windows(texts, batch_size * SORT_WINDOW)
        if not self.prefetch:
            for window in windows:
                yield from self._window(window, self._encode(window, self.tokenizer), words, ratio, beams, batch_size)
                release_free_memory()  # the window's batch shapes leave free holes in the heap (summae/runtime.py)
            return
        # the next window is tokenized on the CPU cores while this one decodes on the GPU (a tokenizer copy of
        # its own, made once: the Rust tokenizer refuses calls from two threads that would change its settings)
        if self._ahead_tokenizer is None:
            self._ahead_tokenizer = copy.deepcopy(self.tokenizer)
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="summae-tokenize") as pool:
            current = None
            for window in windows:
                ahead = (window, pool.submit(self._encode, window, self._ahead_tokenizer))
                if current is not None:
                    yield from self._window(current[0], current[1].result(), words, ratio, beams, batch_size)
                current = ahead
            if current is not None:
                yield from self._window(current[0], current[1].result(), words, ratio, beams, batch_size)

    def _encode(self, texts: list[str], tokenizer) -> tuple[list[list[int]], int]:
        return encode_texts(tokenizer, [t if t.strip() else "" for t in texts], self.cfg.model.max_source_tokens - 1)

    def _window(self, texts: list[str], encoded: tuple[list[list[int]], int], words, ratio, beams: int,
                batch_size: int) -> list[str]:
        """Summaries of `texts` in their order, from batches of documents of similar token counts (a batch
        pads to its longest: sorting by characters left one long document in almost every batch).
        encoded: _encode(texts)."""
        ids, cut = encoded
        self.truncated += cut
        order = sorted(range(len(texts)), key=lambda i: len(ids[i]))
        out: list[str] = [""] * len(texts)
        for start in range(0, len(texts), batch_size):
            rows = order[start: start + batch_size]
            for i, summary in zip(rows, self._batch([ids[i] for i in rows], [texts[i] for i in rows], words, ratio,
                                                    beams)):
                out[i] = summary
        return out

    @torch.inference_mode()
    def _batch(self, ids: list[list[int]], texts: list[str], words, ratio, beams: int) -> list[str]:
        """Summaries of one batch: `ids` the documents' token ids (encode_texts), `texts` the documents."""
        model, vocab = self.model, self.model.vocab
        width = max(len(x) for x in ids) + 1  # the batch's longest document + EOS: no all-padding columns
        graphed = self.writer is not None and beams == 1
        if graphed:  # a few widths, so a few captured graphs (padding columns are masked)

            width = padded_width(width, self.cfg.model.max_source_tokens)
        docs = pad_ids(ids, eos_id=vocab.eos_id, pad_id=vocab.pad_id, width=width).to(self.device)  # (B, L)
        mask = docs != vocab.pad_id
        doc_words = model.word_start[docs].sum(1)  # (B,)
        target = words_for_request(doc_words, words=words, ratio=ratio, max_words=self.cfg.summary.max_words)
        comp_ids, comp_mask = model.compressor_inputs(docs, mask, target)
        if graphed:
            out = self.writer(model.encode(comp_ids, comp_mask), comp_ids, comp_mask, target)
        elif beams == 1:
            out = model.write_summary(comp_ids, comp_mask, target)
        else:
            out = model.beam_summary(comp_ids, comp_mask, target, beams=beams)
        decoded = decode_texts(self.tokenizer, out.tolist())
        summaries = [clean_summary(d, int(k)) if t.strip() else "" for d, k, t in zip(decoded, target.tolist(), texts)]
        cap = self.cfg.model.max_summary_tokens
        if out.shape[1] >= cap:  # rows that reached the token cap (EOS forced at its last position) may end mid-word
            cut = ((out[:, : cap - 1] != vocab.eos_id) & (out[:, : cap - 1] != vocab.pad_id)).all(1).tolist()
            summaries = [drop_cut_word(s, t) if c else s for s, c, t in zip(summaries, cut, texts)]
        if self.cfg.summary.document_order:
            summaries = [document_order(s, t) for s, t in zip(summaries, texts)]
        return summaries


def summarize_file(summarizer: Summarizer, input_path: str, output_path: str | None, *, words=None, ratio=None,
                   beams: int = 1, batch_size: int | None = None, field: str = "document",
                   output_field: str = "generated_summary",
                   overwrite: bool = False, fmt: str | None = None, skip_bad: bool = False, progress: bool = True,
                   encoding: str = "utf-8") -> dict:
    """txt in -> one summary per line out; jsonl in -> the records plus `output_field`.

    Returns counts: documents, skipped (bad records, with skip_bad), truncated (documents longer than
    model.max_source_tokens, summarized from their beginning)."""
    summarizer.check_request(words=words, ratio=ratio, beams=beams, batch_size=batch_size)
    truncated_before = summarizer.truncated
    counts = annotate_file(input_path, output_path,
                           lambda texts: summarizer.stream(texts, words=words, ratio=ratio, beams=beams,
                                                           batch_size=batch_size),
                           field=field, output_field=output_field, overwrite=overwrite, fmt=fmt, skip_bad=skip_bad,
                           encoding=encoding, progress=progress)
    return {**counts, "truncated": summarizer.truncated - truncated_before}


def summarize_folder(summarizer: Summarizer, reader: FolderReader, output_path: str | None, *, words=None,
                     ratio=None, beams: int = 1, batch_size: int | None = None,
                     output_field: str = "generated_summary", progress: bool = True) -> dict:
    """The files of a folder, each read whole (a summae.io.FolderReader) -> one JSON line per file, in name order:
    {"file": its name relative to the folder, output_field: its summary}. JSON lines, not text: a file name may
    hold any character, and the name says which summary is whose.

    Returns counts: documents, skipped (files), truncated (as summarize_file's)."""
    summarizer.check_request(words=words, ratio=ratio, beams=beams, batch_size=batch_size)
    truncated_before = summarizer.truncated
    counts = annotate_file(reader.folder, output_path,
                           lambda texts: summarizer.stream(texts, words=words, ratio=ratio, beams=beams,
                                                           batch_size=batch_size),
                           field="", output_field=output_field, overwrite=False, fmt=None,
                           skip_bad=reader.skip_bad, encoding=reader.encoding, progress=progress, reader=reader)
    return {**counts, "truncated": summarizer.truncated - truncated_before}


def folder_summaries(summarizer: Summarizer, reader: FolderReader, *, words=None, ratio=None, beams: int = 1,
                     batch_size: int | None = None) -> Iterator[tuple[str, str]]:
    """(file name, summary) for each document of `reader`, in its order, streamed (scripts/summarize_folder.py
    writes each to a file of its own)."""
    names: deque[str] = deque()  # the names of the documents handed to the summarizer, awaiting their summary

    def texts() -> Iterator[str]:
        for record, text in reader:
            names.append(record["file"])
            yield text

    for summary in summarizer.stream(texts(), words=words, ratio=ratio, beams=beams, batch_size=batch_size):
        yield names.popleft(), summary
