"""The texts a training run reads: documents, real short texts for the discriminator, labeled pairs, dev set."""

from __future__ import annotations

from dataclasses import dataclass

from summae.config import Config
from summae.errors import SummaeError
from summae.io import load_pairs, read_lines, read_texts, resolve_files
from summae.loading import load_texts


@dataclass
class TrainingTexts:
    docs: object  # datasets.Dataset (or IterableDataset when streaming) with a "text" column
    real: list[str] | None  # real short texts (data.real_files), None without
    labeled: tuple | None  # (documents, summaries) of the semi-supervised option, None without
    dev_texts: list[str]
    dev_refs: list[str] | None  # dev references, None when the dev set comes from the training documents


def load_training_texts(cfg: Config, *, echo=lambda _: None) -> TrainingTexts:
    """Read everything the config names. echo: where to say what was chosen (the main process's)."""
    files = [cfg.resolve_path(f) for f in cfg.data.train_files]
    if not files:
        raise SummaeError("data.train_files is empty: name at least one file of documents")
    docs = load_texts(files, field=cfg.data.text_field, streaming=cfg.data.streaming)
    real = None
    if cfg.data.real_files:
        real = list(load_texts([cfg.resolve_path(f) for f in cfg.data.real_files], field=cfg.data.real_field)["text"])
    else:
        echo("no data.real_files: training without the discriminator (summaries are shaped by "
             "reconstruction and lead pseudo-summaries only)")
    labeled = None
    if cfg.data.labeled_pairs:
        labeled = load_pairs([cfg.resolve_path(f) for f in cfg.data.labeled_files], cfg.data.labeled_pairs,
                             doc_field=cfg.data.text_field, summary_field=cfg.data.labeled_summary_field)
        echo(f"semi-supervised: {cfg.data.labeled_pairs} labeled pairs join every step "
             f"({min(cfg.train.labeled_batch_size, cfg.data.labeled_pairs)} per batch)")
    dev = cfg.data
    if dev.dev_documents:
        path = cfg.resolve_path(dev.dev_documents)
        dev_docs = list(load_texts([path], field=cfg.data.text_field)["text"]) if ".json" in path or ".csv" in path \
            else read_lines(resolve_files([path])[0])
        refs = None
        if dev.dev_references:
            refs = read_texts(resolve_files([cfg.resolve_path(dev.dev_references)])[0], field=dev.dev_field)
        return TrainingTexts(docs, real, labeled, list(dev_docs)[: dev.dev_size],
                             refs[: dev.dev_size] if refs else None)
    if not cfg.data.streaming:
        # no dev set: hold out documents from the training set for the reference-free criterion
        if len(docs) < 2:
            raise SummaeError(f"{', '.join(files)}: {len(docs)} document(s) with text; training needs at "
                              f"least 2 (one is held out for model selection), or set data.dev_documents")
        n_dev = min(dev.dev_size, max(1, len(docs) // 10))
        dev_texts = list(docs.select(range(n_dev))["text"])
        return TrainingTexts(docs.select(range(n_dev, len(docs))), real, labeled, dev_texts, None)
    dev_texts = [row["text"] for _, row in zip(range(dev.dev_size), docs)]
    return TrainingTexts(docs, real, labeled, dev_texts, None)
