"""Building the tokenizer and the models: fresh from a config, or from a checkpoint directory."""

from __future__ import annotations

from pathlib import Path

from summae import checkpoint
from summae.config import Config
from summae.model.discriminator import Discriminator
from summae.errors import SummaeError
from summae.model.autoencoder import COPY_HEAD_FILE, SummaeModel
from summae.model.copy_head import CopyHead
from summae.tokenization import VocabInfo, load_tokenizer, sample_texts, train_sentencepiece


def padded_vocab_size(tokenizer) -> int:
    # a multiple of 64 keeps the output matmul on fast kernels; the extra rows are banned tokens
    return -(-len(tokenizer) // 64) * 64


def prepare_tokenizer(cfg: Config, resume_dir: Path | None, docs, real_texts, *, echo=print):
    """The run's tokenizer: the checkpoint's when resuming, a given one, or SentencePiece trained here."""
    max_words = cfg.summary.max_words
    if resume_dir is not None:
        return load_tokenizer(str(resume_dir / "compressor"), max_words=max_words)
    path = cfg.tokenizer.path or cfg.model.pretrained
    if path:
        return load_tokenizer(path, max_words=max_words)
    texts = sample_texts(docs, cfg.tokenizer.train_sentences, cfg.train.seed)
    if real_texts is not None:
        texts = texts + list(real_texts[: cfg.tokenizer.train_sentences // 4])
    echo(f"training a SentencePiece tokenizer ({cfg.tokenizer.vocab_size} pieces) on {len(texts)} texts")
    return train_sentencepiece(texts, vocab_size=cfg.tokenizer.vocab_size, max_words=max_words,
                               character_coverage=cfg.tokenizer.character_coverage)


def build_models(cfg: Config, tokenizer, resume_dir: Path | None = None):
    """(SummaeModel, Discriminator, VocabInfo), with weights from resume_dir when given."""
    from transformers import AutoModelForSeq2SeqLM

    vocab_size = padded_vocab_size(tokenizer)
    vocab = VocabInfo(tokenizer, vocab_size, cfg.summary.max_words)
    if resume_dir is not None:
        compressor = _load_seq2seq(resume_dir / "compressor", AutoModelForSeq2SeqLM)
        reconstructor = _load_seq2seq(resume_dir / "reconstructor", AutoModelForSeq2SeqLM)
        check_positions(cfg, compressor, f"the checkpoint in {resume_dir}")
        vocab_size = compressor.get_input_embeddings().weight.shape[0]
        vocab = VocabInfo(tokenizer, vocab_size, cfg.summary.max_words)
    else:
        compressor = build_seq2seq(cfg, vocab_size, vocab)
        reconstructor = build_seq2seq(cfg, vocab_size, vocab)
    copy_head = _copy_head(cfg, compressor, resume_dir / "compressor" if resume_dir is not None else None)
    rec_copy_head = _copy_head(cfg, reconstructor, resume_dir / "reconstructor" if resume_dir is not None else None,
                               key="rec_copy")
    model = SummaeModel(compressor, reconstructor, vocab, max_summary_tokens=cfg.model.max_summary_tokens,
                        tau=cfg.train.tau, rec_word_dropout=cfg.train.rec_word_dropout,
                        straight_through=cfg.train.straight_through, copy_head=copy_head,
                        rec_copy_head=rec_copy_head, rec_target_tokens=cfg.model.rec_target_tokens,
                        no_repeat_words=cfg.summary.no_repeat_words,
                        whole_words=cfg.summary.whole_words, in_order=cfg.summary.in_order,
                        span_bonus=cfg.summary.span_bonus)
    disc = Discriminator(vocab_size=vocab_size, d_model=cfg.model.disc_d_model, filters=cfg.model.disc_filters)
    if resume_dir is not None and (resume_dir / "discriminator.safetensors").exists():
        checkpoint.load_module(disc, resume_dir / "discriminator.safetensors")
    return model, disc, vocab


def check_positions(cfg: Config, seq2seq, where: str) -> None:
    """Fail with one line when the config's lengths need more positions than a loaded model's embeddings hold (a
    fresh model is built long enough; a checkpoint or pretrained model keeps its size). Models with relative
    positions (T5) have no such limit."""
    limit = getattr(seq2seq.config, "max_position_embeddings", None)
    if not isinstance(limit, int):
        return
    m = cfg.model
    if m.max_source_tokens + 1 > limit:  # + 1: the compressor reads <len_k> before the document
        raise SummaeError(f"model.max_source_tokens ({m.max_source_tokens}) is more than {where} can read: its "
                          f"{limit} positions hold {limit - 1} document tokens and the length token")
    if m.max_summary_tokens > limit:
        raise SummaeError(f"model.max_summary_tokens ({m.max_summary_tokens}) is more than {where} can write: "
                          f"it has {limit} positions")


PICKLED = ("*.bin", "*.pt", "*.pth", "*.ckpt", "*.pkl")  # weight files that would need unpickling


def _load_seq2seq(path: Path, auto_class):
    """A seq2seq model from a checkpoint's compressor/ or reconstructor/, from model.safetensors only.

    Raises SummaeError naming the file when it is missing, truncated or tampered with (a header that does not
    parse, or tensors renamed, missing or reshaped), or when the folder holds pickled weights."""
    from safetensors import SafetensorError

    path = Path(path)
    pickled = sorted(p.name for pattern in PICKLED for p in path.glob(pattern))
    if pickled:
        raise SummaeError(f"{path / pickled[0]}: summae checkpoints hold weights only as model.safetensors; "
                          f"remove the pickled file (it is never loaded)")
    weights = path / "model.safetensors"
    if path.is_dir() and not weights.exists():
        raise SummaeError(f"{weights} is missing: the checkpoint is incomplete")
    try:
        model, info = auto_class.from_pretrained(str(path), use_safetensors=True, output_loading_info=True)
    except SafetensorError as err:
        raise SummaeError(f"{weights} is not a readable safetensors file (truncated or tampered with): "
                          f"{str(err).splitlines()[0]}") from None
    except (OSError, ValueError, RuntimeError) as err:
        raise SummaeError(f"cannot load the model in {path}: {str(err).splitlines()[0]}") from None
    for kind in ("missing_keys", "unexpected_keys", "mismatched_keys", "error_msgs"):
        if info.get(kind):
            first = sorted(map(str, info[kind]))[0]
            raise SummaeError(f"{weights} does not match its config.json ({kind.replace('_', ' ')}: {first}, "
                              f"{len(info[kind])} in all): the file was tampered with or comes from another model")
    # float(): the shipped ready model stores fp16 weights; training and inference run in fp32 (autocast
    # does mixed precision)
    return model.float()


def restore_weights(model: SummaeModel, disc: Discriminator, directory: Path) -> None:
    """Copy a checkpoint's weights into live models, in place (optimizers keep pointing at the same tensors)."""
    from transformers import AutoModelForSeq2SeqLM

    for name in ("compressor", "reconstructor"):
        saved = _load_seq2seq(directory / name, AutoModelForSeq2SeqLM)
        getattr(model, name).load_state_dict(saved.state_dict())
    if model.copy_head is not None:
        checkpoint.load_module(model.copy_head, directory / "compressor" / COPY_HEAD_FILE)
    if model.rec_copy_head is not None:
        checkpoint.load_module(model.rec_copy_head, directory / "reconstructor" / COPY_HEAD_FILE)
    checkpoint.load_module(disc, directory / "discriminator.safetensors")


def load_for_inference(model_dir: str | Path, *, with_reconstructor: bool = False):
    """(Config, tokenizer, SummaeModel in eval mode) from a checkpoint or run directory."""
    directory = checkpoint.resolve_model_dir(model_dir)
    cfg = Config.from_yaml(directory / "config.yaml")
    tokenizer = load_tokenizer(str(directory / "compressor"), max_words=cfg.summary.max_words)
    from transformers import AutoModelForSeq2SeqLM

    compressor = _load_seq2seq(directory / "compressor", AutoModelForSeq2SeqLM)
    check_positions(cfg, compressor, f"the model in {directory}")
    reconstructor = _load_seq2seq(directory / "reconstructor", AutoModelForSeq2SeqLM) if with_reconstructor else None
    vocab_size = compressor.get_input_embeddings().weight.shape[0]
    vocab = VocabInfo(tokenizer, vocab_size, cfg.summary.max_words)
    rec_copy_head = _copy_head(cfg, reconstructor, directory / "reconstructor", key="rec_copy") \
        if with_reconstructor else None
    model = SummaeModel(compressor, reconstructor, vocab, max_summary_tokens=cfg.model.max_summary_tokens,
                        copy_head=_copy_head(cfg, compressor, directory / "compressor"), rec_copy_head=rec_copy_head,
                        rec_target_tokens=cfg.model.rec_target_tokens,
                        no_repeat_words=cfg.summary.no_repeat_words,
                        whole_words=cfg.summary.whole_words, in_order=cfg.summary.in_order,
                        span_bonus=cfg.summary.span_bonus)
    return cfg, tokenizer, model.eval()


def _copy_head(cfg: Config, seq2seq, directory: Path | None, key: str = "copy") -> CopyHead | None:
    """A seq2seq model's copy head (the compressor's: model.copy, the reconstructor's: model.rec_copy): fresh,
    or read from DIR/copy_head.safetensors."""
    if not getattr(cfg.model, key):
        return None
    head = CopyHead(seq2seq.config.d_model if hasattr(seq2seq.config, "d_model") else seq2seq.config.hidden_size)
    if directory is not None:
        path = directory / COPY_HEAD_FILE
        if not path.exists():
            raise SummaeError(f"{path} is missing: the config says model.{key}=true")
        checkpoint.load_module(head, path)  # same safetensors loading, same errors
    return head


def build_seq2seq(cfg: Config, vocab_size: int, vocab: VocabInfo):
    """A BART-style seq2seq from the config, or a pretrained one (local directory or hub name)."""
    from transformers import AutoModelForSeq2SeqLM, BartConfig, BartForConditionalGeneration

    m = cfg.model
    if m.pretrained:
        try:
            model = AutoModelForSeq2SeqLM.from_pretrained(m.pretrained, use_safetensors=True)  # never unpickle
        except (OSError, ValueError) as err:
            raise SummaeError(f"cannot load a seq2seq model from {m.pretrained!r}: "
                              f"{str(err).splitlines()[0]}") from None
        if model.get_input_embeddings().weight.shape[0] < vocab_size:
            model.resize_token_embeddings(vocab_size)
        check_positions(cfg, model, f"the pretrained model {m.pretrained!r}")
        return model
    config = BartConfig(
        vocab_size=vocab_size, d_model=m.d_model, encoder_layers=m.encoder_layers, decoder_layers=m.decoder_layers,
        encoder_attention_heads=m.heads, decoder_attention_heads=m.heads, encoder_ffn_dim=m.ffn_dim,
        decoder_ffn_dim=m.ffn_dim, dropout=m.dropout, attention_dropout=0.0, activation_dropout=0.0,
        # the compressor reads max_source_tokens + 1 (the length token); check_positions holds a loaded model to it
        max_position_embeddings=max(m.max_source_tokens, m.max_summary_tokens) + 2,
        pad_token_id=vocab.pad_id, eos_token_id=vocab.eos_id, bos_token_id=vocab.start_id,
        decoder_start_token_id=vocab.start_id, forced_eos_token_id=None, forced_bos_token_id=None,
        scale_embedding=False,  # soft embeddings (one_hot @ E) must equal token lookups exactly
        tie_word_embeddings=True,
    )
    return BartForConditionalGeneration(config)
