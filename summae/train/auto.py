"""Settings read off the user's own data instead of a config: lengths set to 0 are chosen here, from the corpus.

A user with a new corpus has no references to tune on, so every rule below reads only the training documents
and the real short texts:

- summary.default_words 0: the real texts' mean length plus one standard deviation, in words, rounded. A
  summary written by the model carries fewer useful words than a human one, so ROUGE F1 peaks above the mean;
  on Gigaword this rule gives 10, the length dev references chose (the only place a reference was read, to
  pick the rule, not its value), and 9 on the Debian synopses.
- summary.min_words 0 / max_words 0: the real texts' 5th and 99th percentile lengths (max_words at least the
  default length), the range of training targets.
- model.max_source_tokens 0: the 99.9th percentile of the training documents' token lengths (+ EOS), rounded
  up to a multiple of 32 and capped at 1,024: documents are read whole, but a few outliers do not set the
  cost of every batch. model.max_summary_tokens is raised, when needed, to hold max_words words: the real
  texts' 99th percentile token length, and max_words words copied from the documents at their 99th percentile
  tokens per word (+ EOS).
"""

from __future__ import annotations

import dataclasses
import math

from summae.config import Config
from summae.errors import SummaeError
from summae.tokenization import encode_texts

AUTO_SOURCE_CAP = 1024  # the longest input chosen from the data (a news article); a config may set up to 4096
SOURCE_QUANTILE = 0.999  # share of training documents read whole
SOURCE_SAMPLE = 20000  # documents tokenized to measure the length distribution
REAL_SAMPLE = 100000  # real short texts measured


def quantile(values: list[float], q: float) -> float:
    """The q-quantile (nearest rank, the value at or above a share q of the sorted values)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def summary_lengths(real_texts: list[str]) -> dict[str, int]:
    """min_words, max_words and default_words from the real short texts' lengths in words."""
    words = [len(t.split()) for t in real_texts[:REAL_SAMPLE]]
    words = [w for w in words if w > 0]
    if not words:
        raise SummaeError("summary lengths set to 0 (from the data) need real short texts with words in "
                          "data.real_files")
    mean = sum(words) / len(words)
    sd = math.sqrt(sum((w - mean) ** 2 for w in words) / len(words))
    default = max(1, round(mean + sd))
    return {"min_words": max(1, int(quantile(words, 0.05))),
            "max_words": max(default, int(quantile(words, 0.99))),
            "default_words": default}


def resolve_summary_lengths(cfg: Config, real_texts: list[str] | None, *, echo=print) -> Config:
    """cfg with summary.min_words, max_words and default_words that are 0 set from the real texts (before the
    tokenizer is built: its length tokens go up to max_words)."""
    s = cfg.summary
    auto = [k for k in ("min_words", "max_words", "default_words") if getattr(s, k) == 0]
    if not auto:
        return cfg
    if not real_texts:
        raise SummaeError(f"summary.{auto[0]} 0 (from the data) needs data.real_files: the real short texts "
                          "set the summary length")
    chosen = summary_lengths(real_texts)
    values = {k: chosen[k] for k in auto}
    summary = dataclasses.replace(s, **values)
    if summary.min_words > summary.max_words:  # one side configured, the other from the data
        summary = dataclasses.replace(summary, min_words=summary.max_words)
    summary = dataclasses.replace(summary, default_words=min(summary.default_words, summary.max_words))
    echo("summary lengths from the real texts: " + ", ".join(f"summary.{k} {getattr(summary, k)}" for k in auto)
         + " (default: mean + 1 sd of their words; range: their 5th-99th percentile)")
    return dataclasses.replace(cfg, summary=summary)


def source_tokens(lengths: list[int]) -> int:
    """model.max_source_tokens for documents of these token lengths (EOS not counted)."""
    if not lengths:
        raise SummaeError("model.max_source_tokens 0 (from the data) needs training documents")
    need = quantile(lengths, SOURCE_QUANTILE) + 1  # + EOS
    return int(min(AUTO_SOURCE_CAP, max(32, math.ceil(need / 32) * 32)))


def copied_tokens(doc_ids: list[list[int]], doc_texts: list[str], words: int) -> int:
    """Tokens that `words` words copied from these documents take: words x the 99th percentile, over documents,
    of tokens per word. Summaries copy from the documents, and a corpus of rare technical words splits each
    word into several pieces (Debian: 33 tokens for 12 words, where the synopses' own lengths asked for 22); a cap
    sized from the real texts alone cut 26% of the 9-word extractions short
    (benchmarks/results/summary-cap-20261205-cpu2-debian.json)."""
    ratios = [len(ids) / len(text.split()) for ids, text in zip(doc_ids, doc_texts) if text.split()]
    return math.ceil(words * quantile(ratios, 0.99)) if ratios else words


def resolve_token_lengths(cfg: Config, tokenizer, doc_texts: list[str], real_texts: list[str] | None,
                          *, summary_auto: bool, echo=print) -> Config:
    """cfg with model.max_source_tokens 0 set from the documents' token lengths, and max_summary_tokens raised
    to hold the real texts when the summary lengths came from the data (summary_auto)."""
    m = cfg.model
    copy_words = summary_auto and bool(real_texts)
    if m.max_source_tokens == 0 or copy_words:  # the cap: far above any document
        ids, _ = encode_texts(tokenizer, doc_texts[:SOURCE_SAMPLE], AUTO_SOURCE_CAP * 4)
    if m.max_source_tokens == 0:
        lengths = [len(x) for x in ids]
        chosen = source_tokens(lengths)
        whole = sum(n + 1 <= chosen for n in lengths)
        echo(f"model.max_source_tokens {chosen} from the documents' lengths: {whole} of {len(lengths)} measured "
             f"are read whole (the {SOURCE_QUANTILE:.1%} quantile, rounded up to 32, at most {AUTO_SOURCE_CAP})")
        m = dataclasses.replace(m, max_source_tokens=chosen)
    if copy_words:
        real_ids, _ = encode_texts(tokenizer, real_texts[:REAL_SAMPLE], 256)
        real_need = int(quantile([len(x) for x in real_ids], 0.99)) + 1
        copy_need = copied_tokens(ids, doc_texts[:SOURCE_SAMPLE], cfg.summary.max_words) + 1
        need = max(cfg.summary.max_words + 1, real_need, copy_need)
        if need > m.max_summary_tokens:
            echo(f"model.max_summary_tokens {min(need, 256)}: room for the real texts' 99th percentile length "
                 f"({real_need - 1} tokens) and for summary.max_words words copied from the documents "
                 f"({copy_need - 1} tokens, at their 99th percentile tokens per word)")
            m = dataclasses.replace(m, max_summary_tokens=min(need, 256))
    return dataclasses.replace(cfg, model=m).validated()


# ---- model size from the corpus, the budget and the device (model.d_model 0, train.batch_size 0) -----------
# (name, model fields, batch on a CPU, batch on a GPU). "small" is the demo's size: ~100 documents/s of ~300
# tokens on 2 CPU cores (docs/performance.md); "base" is the GPU recipe's (summae/config.py defaults).
SIZES = {
    "small": ({"d_model": 128, "encoder_layers": 2, "decoder_layers": 2, "heads": 4, "ffn_dim": 512,
               "disc_d_model": 64, "disc_filters": 64}, 32, 256),
    "base": ({"d_model": 256, "encoder_layers": 3, "decoder_layers": 3, "heads": 4, "ffn_dim": 1024,
              "disc_d_model": 128, "disc_filters": 128}, 64, 1024),
}
BASE_MIN_DOCS = 50_000  # fewer documents than this do not feed the base model's 3+3 layers (it overfits them)
BASE_MIN_GPU_MINUTES = 3.0  # the GPU recipe's budget: less, and the base model is still learning to copy
BASE_MIN_CPU_MINUTES = 240.0  # on a CPU the base model runs ~4x slower than small: hours before it pays off


def model_size(n_docs: int, minutes: float | None, on_gpu: bool) -> tuple[str, str]:
    """The size for n_docs training documents and a budget of `minutes` on this device: (name, why)."""
    budget = float("inf") if minutes is None else minutes
    enough_time = budget >= (BASE_MIN_GPU_MINUTES if on_gpu else BASE_MIN_CPU_MINUTES)
    if n_docs >= BASE_MIN_DOCS and enough_time:
        return "base", f"{n_docs} documents and {budget:g} minutes on a {'GPU' if on_gpu else 'CPU'}"
    why = (f"fewer than {BASE_MIN_DOCS} documents ({n_docs})" if n_docs < BASE_MIN_DOCS else
           f"{budget:g} minutes on a {'GPU' if on_gpu else 'CPU'} (base needs "
           f"{BASE_MIN_GPU_MINUTES if on_gpu else BASE_MIN_CPU_MINUTES:g})")
    return "small", why


def resolve_model_size(cfg: Config, n_docs: int, on_gpu: bool, *, echo=print) -> Config:
    """cfg with model.d_model 0 and train.batch_size 0 set by model_size()."""
    if cfg.model.d_model != 0 and cfg.train.batch_size != 0:
        return cfg
    name, why = model_size(n_docs, cfg.train.minutes, on_gpu)
    fields, cpu_batch, gpu_batch = SIZES[name]
    model, train = cfg.model, cfg.train
    if model.d_model == 0:
        model = dataclasses.replace(model, **fields)
    if train.batch_size == 0:
        train = dataclasses.replace(train, batch_size=min(gpu_batch if on_gpu else cpu_batch, max(1, n_docs)))
    echo(f"model size {name} (d_model {model.d_model}, {model.encoder_layers}+{model.decoder_layers} layers, batch "
         f"{train.batch_size}): {why}")
    return dataclasses.replace(cfg, model=model, train=train)
