"""Token batches for training: tokenize once, then serve padded tensors (in memory or streamed).

In-memory corpora become one padded id matrix, so a batch is a single index into it, on any device.
Streamed corpora are tokenized on the fly. Both shard by process rank, so every process of a
distributed run sees different documents.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from summae.tokenization import encode_texts, pad_ids


def trim(batch: torch.Tensor, pad_id: int | None) -> torch.Tensor:
    """A padded batch (B, W) cut to its longest row: the columns after it hold only pad."""
    if pad_id is None or batch.numel() == 0:
        return batch
    width = int((batch != pad_id).sum(1).max())
    return batch[:, : max(width, 1)]


def length_chunks(ids: torch.Tensor, pad_id: int, *, tokens: int, max_rows: int) -> list[torch.Tensor]:
    """Row indices of a padded (N, L) id matrix in batches for scoring: the longest rows first, each batch as many
    rows (at most max_rows) as hold `tokens` tokens at the width of its longest row, so that a batch cut to that
    row (trim) costs about the same memory whatever the padding. Row indices on the CPU."""
    lengths = (ids != pad_id).sum(1).cpu()
    order = torch.argsort(lengths, descending=True, stable=True)
    chunks, start = [], 0
    while start < len(order):
        rows = min(max_rows, max(1, tokens // max(int(lengths[order[start]]), 1)))
        chunks.append(order[start: start + rows])
        start += rows
    return chunks


def bucket_order(lengths: torch.Tensor, batch_size: int, gen: torch.Generator) -> torch.Tensor:
    """Rows of one sorting window in batch order: sorted by length (ties in their shuffled order), cut into
    batches of batch_size, the batches themselves in a random order. (n,) lengths -> (n,) positions."""
    by_length = torch.sort(lengths, stable=True).indices
    batches = by_length[: len(by_length) // batch_size * batch_size].view(-1, batch_size)
    return torch.cat([batches[torch.randperm(batches.shape[0], generator=gen)].flatten(),
                      by_length[batches.numel():]])


class TensorBatches:
    """Endless shuffled batches of rows from an (N, W) id matrix, resumable at any step.

    The order of epoch e is a permutation seeded by (seed, e); each process takes every world-th batch.
    With pad_id, a batch is cut to its longest row. With bucket > 1 as well, the epoch's order is read in
    windows of bucket * world batches, each sorted by length before it is cut into batches (their order
    shuffled again): documents of similar length share a batch, so a batch carries little padding.
    """

    def __init__(self, ids: torch.Tensor, batch_size: int, *, seed: int, rank: int = 0, world: int = 1,
                 pad_id: int | None = None, bucket: int = 0):
        if ids.shape[0] < batch_size:
            # small corpora: repeat rows so that one batch fits
            reps = -(-batch_size // ids.shape[0])
            ids = ids.repeat(reps, 1)
        # held as int32 (token ids fit), served as int64: half the memory of a corpus padded to 1,024 tokens
        fits = ids.numel() and -2**31 <= int(ids.min()) and int(ids.max()) < 2**31
        self.ids = ids.to(torch.int32) if fits else ids
        self.batch_size = batch_size
        self.seed = seed
        self.rank = rank
        self.world = world
        self.pad_id = pad_id
        self.per_epoch = ids.shape[0] // (batch_size * world)  # batches per process per epoch
        if self.per_epoch == 0:
            self.per_epoch = 1
            self.world = 1  # too little data to split: every process reads the same batches
        self.bucket = bucket if pad_id is not None and bucket > 1 else 0
        self.lengths = (ids != pad_id).sum(1) if self.bucket else None
        self._window = (None, None)  # (key, rows) of the sorting window last read

    def batch(self, step: int) -> torch.Tensor:
        epoch, index = divmod(step, self.per_epoch)
        gen = torch.Generator().manual_seed(self.seed * 100_003 + epoch)
        order = torch.randperm(self.ids.shape[0], generator=gen)
        start = (index * self.world + self.rank) * self.batch_size
        if self.bucket:
            span = self.bucket * self.world * self.batch_size  # rows per sorting window
            window, start = divmod(start, span)
            key = (epoch, window)
            if self._window[0] != key:
                rows = order[window * span: min((window + 1) * span, self.per_epoch * self.world * self.batch_size)]
                gen = torch.Generator().manual_seed((self.seed * 100_003 + epoch) * 10_007 + window)
                self._window = (key, rows[bucket_order(self.lengths[rows], self.batch_size, gen)])
            order = self._window[1]
        return trim(self.ids[order[start: start + self.batch_size]], self.pad_id).long()

    def iterate(self, start_step: int = 0) -> Iterator[torch.Tensor]:
        step = start_step
        while True:
            yield self.batch(step)
            step += 1


class StreamBatches:
    """Batches tokenized on the fly from a datasets IterableDataset ("text" column), restarting at its end."""

    def __init__(self, dataset, tokenizer, batch_size: int, *, max_tokens: int, eos_id: int, pad_id: int,
                 seed: int, rank: int = 0, world: int = 1, bucket: int = 0):
        from datasets.distributed import split_dataset_by_node

        if world > 1:
            dataset = split_dataset_by_node(dataset, rank=rank, world_size=world)
        self.dataset = dataset.shuffle(seed=seed, buffer_size=10_000)
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        self.max_tokens = max_tokens
        self.eos_id = eos_id
        self.pad_id = pad_id
        self.seed = seed
        self.bucket = max(bucket, 1)  # batches per sorting window, as in TensorBatches
        self.truncated = 0  # documents cut to max_tokens so far

    def iterate(self, start_step: int = 0) -> Iterator[torch.Tensor]:
        """Batches cut to their longest row; with bucket > 1, read in windows of that many batches, each sorted
        by length, then served in a random order (seeded by the window's number, so a resumed run replays it)."""
        epoch, served, windows = 0, 0, 0
        span = self.batch_size * self.bucket
        while True:
            self.dataset.set_epoch(epoch)
            texts = []
            for row in self.dataset:
                texts.append(row["text"])
                if len(texts) == span:
                    yield from self._window(texts, windows, start_step - served)
                    served, windows, texts = served + self.bucket, windows + 1, []
            if served == 0:
                raise RuntimeError("the streamed corpus holds fewer documents than one batch")
            epoch += 1

    def _window(self, texts: list[str], number: int, skip: int) -> Iterator[torch.Tensor]:
        if skip >= self.bucket:
            return  # resuming: the interrupted run already saw this window (not even tokenized again)
        ids, cut = encode_texts(self.tokenizer, texts, self.max_tokens - 1)
        matrix = pad_ids(ids, eos_id=self.eos_id, pad_id=self.pad_id, width=self.max_tokens)
        gen = torch.Generator().manual_seed(self.seed * 100_003 + number)
        matrix = matrix[bucket_order((matrix != self.pad_id).sum(1), self.batch_size, gen)]
        self.truncated += cut
        for index in range(max(skip, 0), self.bucket):
            yield trim(matrix[index * self.batch_size: (index + 1) * self.batch_size], self.pad_id)
