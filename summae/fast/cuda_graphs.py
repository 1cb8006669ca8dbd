"""Greedy summary decoding replayed from CUDA graphs: one launch per batch instead of one per kernel.

On a GPU the decoding loop (a decoder step per summary token, the copy head, the length and spelling rules)
is bound by the host: its kernels are small, so the GPU waits while the host launches them one by one (a
profile shows the device idle for most of a batch's time in the model; docs/performance.md, "The GPU"). A
CUDA graph records the loop's kernels once per input shape and replays them with one call. The encoder stays
eager (transformers' mask handling may read values back to the host, which a capture cannot hold); the graph
covers `write_summary(..., sync_free=True)` from the encoder states on.

Shapes: `Summarizer` pads a batch's width up to a multiple of WIDTH_STEP when it decodes through graphs (past
64, of an eighth of the power of two at or above the width: 4 widths per doubling, so 1,024-token documents
meet a handful of widths too). A shape is decoded eagerly the first time it is met and captured the second
time (a capture costs a few eager runs: a short input never pays it). Graphs are kept per input shape, the
least recently used dropped past MAX_GRAPHS, or past MAX_GRAPH_TOKENS rows x width in all: each graph's memory
pool holds its batch's cross-attention keys and values, which grow with the width. If a capture or replay
fails, the writer turns graphs off for good with one warning and decodes eagerly from then on: the summaries are
the same either way.

Training uses the same writer for the summaries it samples (`train.cuda_graphs`): there the batch's encoder
states come from the generator's forward, so the writer pads them (`pad_to`), and the sampling draws its
Gumbel noise from the default CUDA generator, which a graph replays with fresh offsets each time (the same
distribution as eager sampling, other draws). Two things keep a replay reading the current weights: the
optimizer updates the parameters in place, and the writer runs under autocast with its weight-cast cache
off, so the captured kernels cast the live fp32 weights instead of reading a cached bf16 copy that the end of
an autocast region frees.

Off by default (`train.cuda_graphs: false`, `Summarizer(cuda_graphs=False)`): the speed-up has not been
measured. A GPU measurement (benchmarks/throughput.py times both ways when graphs are on) must show the gain
before the defaults turn them on.
"""

from __future__ import annotations

import logging
from collections import OrderedDict

import torch
import torch.nn.functional as F

log = logging.getLogger(__name__)

WIDTH_STEP = 8  # batch widths (document tokens + EOS + length token) up to 64 are padded to a multiple of this
MAX_GRAPHS = 16  # captured shapes kept (each holds its own memory pool)
# batch rows x width summed over the kept graphs: 16 graphs of 2,048 rows at the recipe's widths (<= 72), and
# fewer of longer documents (one of 2,048 rows of 1,025 tokens), whose pools grow with the width
MAX_GRAPH_TOKENS = 16 * 2048 * 72
WARMUP_RUNS = 2  # eager runs on a side stream before a capture (kernel selection, lazy initialisation)


class GraphedWriter:
    """writer(enc, comp_ids, comp_mask, target) -> (B, S) summary ids, as model.write_summary(comp_ids,
    comp_mask, target, enc=enc, temperature=temperature) gives them, replayed from a CUDA graph per input shape
    and temperature. pad_to: pad the inputs' width (L+1) up to a multiple of WIDTH_STEP, at most pad_to
    (padded positions masked: the same summaries), for callers whose batches come in many widths (training)."""

    def __init__(self, model, *, pad_to: int | None = None):
        self.model = model
        self.pad_to = pad_to
        self.graphs: OrderedDict[tuple, tuple] = OrderedDict()  # shape key -> (graph, static inputs, output)
        self.seen: set[tuple] = set()  # shapes met once (decoded eagerly): the next meeting captures
        self.enabled = True
        self.captures = 0  # graphs captured so far (benchmarks report it)

    def _write(self, enc, comp_ids, comp_mask, target, temperature: float = 0.0) -> torch.Tensor:
        return self.model.write_summary(comp_ids, comp_mask, target, enc=enc, temperature=temperature, sync_free=True)

    def reset(self) -> None:
        """Drop every captured graph (after the weights were loaded anew, say): shapes are captured again."""
        self.graphs.clear()
        self.seen.clear()

    def _padded(self, enc, comp_ids, comp_mask) -> tuple:
        width = comp_ids.shape[1]
        wide = padded_width(width, self.pad_to)
        if wide == width:
            return enc, comp_ids, comp_mask
        extra = wide - width
        return (F.pad(enc, (0, 0, 0, extra)), F.pad(comp_ids, (0, extra), value=self.model.vocab.pad_id),
                F.pad(comp_mask, (0, extra), value=0))

    def __call__(self, enc: torch.Tensor, comp_ids: torch.Tensor, comp_mask: torch.Tensor,
                 target: torch.Tensor, temperature: float = 0.0) -> torch.Tensor:
        device = enc.device.type
        # under autocast (training), casts are not cached: a captured cast then reads the live weights
        with torch.autocast(device, dtype=torch.get_autocast_dtype(device), enabled=torch.is_autocast_enabled(device),
                            cache_enabled=False):
            return self._call(enc, comp_ids, comp_mask, target, temperature)

    def _call(self, enc, comp_ids, comp_mask, target, temperature: float) -> torch.Tensor:
        if self.enabled:
            if self.pad_to is not None:
                enc, comp_ids, comp_mask = self._padded(enc, comp_ids, comp_mask)
            args = (enc, comp_ids, comp_mask, target)
            device = enc.device.type  # a graph captured under autocast runs its casts: the key says which
            autocast = torch.get_autocast_dtype(device) if torch.is_autocast_enabled(device) else None
            key = (tuple((tuple(x.shape), x.dtype) for x in args), float(temperature), autocast)
            try:
                entry = self.graphs.get(key)
                if entry is None and key not in self.seen:
                    self.seen.add(key)
                    return self.model.write_summary(comp_ids, comp_mask, target, enc=enc, temperature=temperature)
                if entry is None:
                    entry = self._capture(args, temperature)
                    self.graphs[key] = entry
                    self._evict()
                else:
                    self.graphs.move_to_end(key)
                graph, inputs, out = entry
                for static, value in zip(inputs, args):
                    static.copy_(value)
                graph.replay()
                return out.clone()
            except RuntimeError as err:  # includes torch.OutOfMemoryError
                self.enabled = False
                self.graphs.clear()
                log.warning("writing summaries without CUDA graphs from here on: %s", str(err).splitlines()[0])
        return self._write(enc, comp_ids, comp_mask, target, temperature)

    def _evict(self) -> None:
        """Drop the least recently used graphs past MAX_GRAPHS, or past MAX_GRAPH_TOKENS (the newest one stays)."""
        while len(self.graphs) > 1 and (len(self.graphs) > MAX_GRAPHS
                                        or sum(map(graph_tokens, self.graphs)) > MAX_GRAPH_TOKENS):
            self.graphs.popitem(last=False)

    def _capture(self, args: tuple, temperature: float = 0.0) -> tuple:
        inputs = [x.clone() for x in args]
        device = inputs[0].device
        side = torch.cuda.Stream(device=device)
        side.wait_stream(torch.cuda.current_stream(device))
        with torch.cuda.stream(side):
            for _ in range(WARMUP_RUNS):
                self._write(*inputs, temperature)
        torch.cuda.current_stream(device).wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        # thread_local: CUDA work of other threads (another Summarizer, a training loop) may go on meanwhile
        with torch.cuda.graph(graph, capture_error_mode="thread_local"):
            out = self._write(*inputs, temperature)
        self.captures += 1
        return graph, inputs, out


def padded_width(width: int, limit: int) -> int:
    """width rounded up to a multiple of WIDTH_STEP (up to 8 x WIDTH_STEP), past that of an eighth of the power of
    two at or above it (4 widths per doubling, padding under a quarter), at most `limit` (never below width)."""
    step = WIDTH_STEP if width <= 8 * WIDTH_STEP else (1 << (width - 1).bit_length()) // 8
    return max(width, min(-(-width // step) * step, limit))


def graph_tokens(key: tuple) -> int:
    """Batch rows x width of a GraphedWriter shape key (its comp_ids' shape)."""
    rows, width = key[0][1][0]
    return rows * width
