"""Token batches for training: tokenize once, then serve padded tensors (in memory or streamed).

In-memory corpora become one padded id matrix, so a batch is a single index into it, on any device.
Streamed corpora are tokenized on the fly. Both shard by process rank, so every process of a
distributed run sees different documents.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

# characters kept before tokenizing: far more than max tokens, so truncation is decided on tokens,
# but a 1 MB single-line document does not cost a 1 MB tokenization
CHARS_PER_TOKEN_BOUND = 16


def encode_texts(tokenizer, texts: list[str], max_tokens: int) -> tuple[list[list[int]], int]:
    """Token ids without special tokens, cut to max_tokens; also the number of texts that were cut."""
    clipped = [t[: max_tokens * CHARS_PER_TOKEN_BOUND] for t in texts]
    ids = tokenizer(clipped, add_special_tokens=False)["input_ids"]
    cut = sum(len(x) > max_tokens for x in ids)
    return [x[:max_tokens] for x in ids], cut


def pad_ids(rows: list[list[int]], *, eos_id: int, pad_id: int, width: int) -> torch.Tensor:
    """Rows + EOS, padded to `width` columns: list of lists -> (N, width) long tensor."""
    out = torch.full((len(rows), width), pad_id, dtype=torch.long)
    for i, row in enumerate(rows):
        row = row[: width - 1] + [eos_id]
        out[i, : len(row)] = torch.tensor(row, dtype=torch.long)
    return out


class TensorBatches:
    """Endless shuffled batches of rows from an (N, W) id matrix, resumable at any step.

    The order of epoch e is a permutation seeded by (seed, e); each process takes every world-th batch.
    """

    def __init__(self, ids: torch.Tensor, batch_size: int, *, seed: int, rank: int = 0, world: int = 1):
        if ids.shape[0] < batch_size:
            # small corpora: repeat rows so that one batch fits
            reps = -(-batch_size // ids.shape[0])
            ids = ids.repeat(reps, 1)
        self.ids = ids
        self.batch_size = batch_size
        self.seed = seed
        self.rank = rank
        self.world = world
        self.per_epoch = ids.shape[0] // (batch_size * world)  # batches per process per epoch
        if self.per_epoch == 0:
            self.per_epoch = 1
            self.world = 1  # too little data to split: every process reads the same batches

    def batch(self, step: int) -> torch.Tensor:
        epoch, index = divmod(step, self.per_epoch)
        gen = torch.Generator().manual_seed(self.seed * 100_003 + epoch)
        order = torch.randperm(self.ids.shape[0], generator=gen)
        start = (index * self.world + self.rank) * self.batch_size
        return self.ids[order[start: start + self.batch_size]]

    def iterate(self, start_step: int = 0) -> Iterator[torch.Tensor]:
        step = start_step
        while True:
            yield self.batch(step)
            step += 1


class StreamBatches:
    """Batches tokenized on the fly from a datasets IterableDataset ("text" column), restarting at its end."""

    def __init__(self, dataset, tokenizer, batch_size: int, *, max_tokens: int, eos_id: int, pad_id: int,
                 seed: int, rank: int = 0, world: int = 1):
        from datasets.distributed import split_dataset_by_node

        if world > 1:
            dataset = split_dataset_by_node(dataset, rank=rank, world_size=world)
        self.dataset = dataset.shuffle(seed=seed, buffer_size=10_000)
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        self.max_tokens = max_tokens
        self.eos_id = eos_id
        self.pad_id = pad_id
        self.truncated = 0  # documents cut to max_tokens so far

    def iterate(self, start_step: int = 0) -> Iterator[torch.Tensor]:
        epoch, served = 0, 0
        while True:
            self.dataset.set_epoch(epoch)
            texts = []
            for row in self.dataset:
                texts.append(row["text"])
                if len(texts) == self.batch_size:
                    ids, cut = encode_texts(self.tokenizer, texts, self.max_tokens - 1)
                    texts = []
                    served += 1
                    if served <= start_step:
                        continue  # resuming: skip what the interrupted run already saw
                    self.truncated += cut
                    yield pad_ids(ids, eos_id=self.eos_id, pad_id=self.pad_id, width=self.max_tokens)
            if served == 0:
                raise RuntimeError("the streamed corpus holds fewer documents than one batch")
            epoch += 1
