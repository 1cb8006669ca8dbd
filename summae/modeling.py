"""Compressor + reconstructor: two transformers seq2seq models joined by a text bottleneck.

The compressor reads `<len_k> document` and writes a k-word summary; the reconstructor reads only that
summary (as `one_hot @ E`) and rebuilds the document. The model computes its losses and returns them
by name; the trainer decides their weights.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from transformers.modeling_outputs import BaseModelOutput

from summae.bottleneck import (after_eos_mask, apply_mask, choose, length_rule_mask, soft_embed,
                               straight_through, word_counts)
from summae.config import Config
from summae.errors import SummaeError
from summae.losses import token_nll, token_nll_per_sequence
from summae.tokenization import VocabInfo


@dataclass
class SummaeOutput:
    losses: dict[str, torch.Tensor] = field(default_factory=dict)  # "rec", "lead": scalars
    summary_one_hot: torch.Tensor | None = None  # (B, S, V) straight-through one-hots of the summary
    summary_mask: torch.Tensor | None = None  # (B, S) True on summary tokens (EOS included)
    rec_logits: torch.Tensor | None = None  # (B, L, V) reconstructor logits over the document


def build_seq2seq(cfg: Config, vocab_size: int, vocab: VocabInfo):
    """A BART-style seq2seq from the config, or a pretrained one (local directory or hub name)."""
    from transformers import AutoModelForSeq2SeqLM, BartConfig, BartForConditionalGeneration

    m = cfg.model
    if m.pretrained:
        try:
            model = AutoModelForSeq2SeqLM.from_pretrained(m.pretrained)
        except (OSError, ValueError) as err:
            raise SummaeError(f"cannot load a seq2seq model from {m.pretrained!r}: {str(err).splitlines()[0]}") from None
        if model.get_input_embeddings().weight.shape[0] < vocab_size:
            model.resize_token_embeddings(vocab_size)
        return model
    config = BartConfig(
        vocab_size=vocab_size, d_model=m.d_model, encoder_layers=m.encoder_layers, decoder_layers=m.decoder_layers,
        encoder_attention_heads=m.heads, decoder_attention_heads=m.heads, encoder_ffn_dim=m.ffn_dim,
        decoder_ffn_dim=m.ffn_dim, dropout=m.dropout, attention_dropout=0.0, activation_dropout=0.0,
        max_position_embeddings=max(m.max_source_tokens, m.max_summary_tokens) + 2,
        pad_token_id=vocab.pad_id, eos_token_id=vocab.eos_id, bos_token_id=vocab.start_id,
        decoder_start_token_id=vocab.start_id, forced_eos_token_id=None, forced_bos_token_id=None,
        scale_embedding=False,  # soft embeddings (one_hot @ E) must equal token lookups exactly
        tie_word_embeddings=True,
    )
    return BartForConditionalGeneration(config)


def _cache_kwarg(model) -> str:
    # transformers 5.24 renamed `past_key_values` to `cache`; the GPU image has 5.17
    params = inspect.signature(type(model).forward).parameters
    return "cache" if "cache" in params else "past_key_values"


def _returned_cache(out):
    return out.cache if getattr(out, "cache", None) is not None else getattr(out, "past_key_values", None)


def shift_right(labels: torch.Tensor, start_id: int, pad_id: int) -> torch.Tensor:
    """Teacher-forcing inputs: [start, y_0 .. y_{T-2}]. (B, T) -> (B, T)."""
    out = labels.new_full(labels.shape, pad_id)
    out[:, 0] = start_id
    out[:, 1:] = labels[:, :-1]
    return out


class SummaeModel(nn.Module):
    def __init__(self, compressor, reconstructor, vocab: VocabInfo, *, max_summary_tokens: int, tau: float = 1.0,
                 rec_word_dropout: float = 0.0):
        super().__init__()
        self.compressor = compressor
        self.reconstructor = reconstructor
        self.vocab = vocab
        self.max_summary_tokens = max_summary_tokens
        self.tau = tau
        self.rec_word_dropout = rec_word_dropout
        self.register_buffer("word_start", vocab.word_start.clone(), persistent=False)  # (V,)
        self.register_buffer("banned", vocab.banned.clone(), persistent=False)  # (V,)
        self.register_buffer("length_ids", torch.tensor(vocab.length_ids), persistent=False)  # (max_words,)

    # ---- inputs --------------------------------------------------------------------------------
    def compressor_inputs(self, doc_ids: torch.Tensor, doc_mask: torch.Tensor, target: torch.Tensor):
        """Prepend the length token <len_k>: (B, L) -> (B, L + 1) ids and mask."""
        length_tok = self.length_ids[(target - 1).clamp(0, len(self.length_ids) - 1)]  # (B,)
        ids = torch.cat([length_tok[:, None], doc_ids], dim=1)
        mask = torch.cat([torch.ones_like(doc_mask[:, :1]), doc_mask], dim=1)
        return ids, mask

    def _rules(self, counts, target, step):
        return length_rule_mask(counts, target, step, max_steps=self.max_summary_tokens,
                                word_start=self.word_start, banned=self.banned, eos_id=self.vocab.eos_id)

    def _encode(self, ids, mask):
        return self.compressor.get_encoder()(input_ids=ids, attention_mask=mask).last_hidden_state  # (B, L, D)

    # ---- writing summaries (no gradient) ---------------------------------------------------------
    @torch.no_grad()
    def write_summary(self, comp_ids: torch.Tensor, comp_mask: torch.Tensor, target: torch.Tensor, *,
                      temperature: float = 0.0, generator: torch.Generator | None = None) -> torch.Tensor:
        """Greedy (temperature 0) or sampled summaries under the length rules, with a KV cache.

        Returns (B, S) ids: the summary, its EOS, then pad.
        """
        encoder_out = BaseModelOutput(last_hidden_state=self._encode(comp_ids, comp_mask))
        counts = torch.zeros(comp_ids.shape[0], dtype=torch.long, device=comp_ids.device)

        def pick(logits, step):
            nxt = choose(apply_mask(logits.float(), self._rules(counts, target, step)), temperature, generator)
            counts.add_(self.word_start[nxt].long())
            return nxt

        return self._decode_loop(self.compressor, encoder_out, comp_mask, self.max_summary_tokens, pick)

    @torch.no_grad()
    def reconstruct_greedy(self, summary_ids: torch.Tensor, *, max_tokens: int) -> torch.Tensor:
        """The reconstructor's greedy rebuild of the documents from hard summaries: (B, S) -> (B, max_tokens)."""
        mask = summary_ids != self.vocab.pad_id
        encoder_out = BaseModelOutput(last_hidden_state=self.reconstructor.get_encoder()(
            input_ids=summary_ids, attention_mask=mask.long()).last_hidden_state)
        return self._decode_loop(self.reconstructor, encoder_out, mask.long(), max_tokens,
                                 lambda logits, step: logits.argmax(-1))

    def _decode_loop(self, model, encoder_out, enc_mask, max_steps: int, pick) -> torch.Tensor:
        """Token-by-token decoding with a KV cache; pick(logits (B, V), step) -> (B,) chooses each token.
        Returns (B, max_steps): tokens, EOS, then pad."""
        batch, device = enc_mask.shape[0], enc_mask.device
        cache_kw = _cache_kwarg(model)
        tokens = torch.full((batch, 1), self.vocab.start_id, dtype=torch.long, device=device)
        out_ids = torch.full((batch, max_steps), self.vocab.pad_id, dtype=torch.long, device=device)
        done = torch.zeros(batch, dtype=torch.bool, device=device)
        cache = None
        for step in range(max_steps):
            out = model(encoder_outputs=encoder_out, attention_mask=enc_mask, decoder_input_ids=tokens,
                        use_cache=True, **{cache_kw: cache})
            cache = _returned_cache(out)
            nxt = pick(out.logits[:, -1], step)  # (B,)
            nxt = torch.where(done, torch.full_like(nxt, self.vocab.pad_id), nxt)
            out_ids[:, step] = nxt
            done |= nxt == self.vocab.eos_id
            if bool(done.all()):
                break
            tokens = nxt[:, None]
        return out_ids

    @torch.no_grad()
    def beam_summary(self, comp_ids: torch.Tensor, comp_mask: torch.Tensor, target: torch.Tensor, *,
                     beams: int) -> torch.Tensor:
        """Beam search (transformers' generate) under the same length rules. Returns (B, <= S) ids."""
        from transformers import LogitsProcessor, LogitsProcessorList

        rules, word_start = self._rules, self.word_start
        row_target = target.repeat_interleave(beams)  # generate keeps the beams of one document together

        class LengthRules(LogitsProcessor):
            def __call__(self, input_ids, scores):
                written = input_ids[:, 1:]  # (B*K, t) without the decoder start token
                counts = word_start[written].long().sum(1)
                return apply_mask(scores, rules(counts, row_target, written.shape[1]))

        out = self.compressor.generate(
            input_ids=comp_ids, attention_mask=comp_mask, num_beams=beams, do_sample=False,
            max_new_tokens=self.max_summary_tokens, logits_processor=LogitsProcessorList([LengthRules()]),
            decoder_start_token_id=self.vocab.start_id, eos_token_id=self.vocab.eos_id,
            pad_token_id=self.vocab.pad_id, no_repeat_ngram_size=0, early_stopping=True)
        return out[:, 1:]

    # ---- training forward passes -----------------------------------------------------------------
    def forward(self, *, comp_ids, comp_mask, doc_labels, summary_ids=None, target=None, lead_ids=None,
                rec_from_lead: bool = False) -> SummaeOutput:
        """Losses of one batch.

        comp_ids/comp_mask (B, L+1): compressor input with its length token; doc_labels (B, L): document + EOS,
        pad elsewhere; summary_ids (B, S): the summary written by `write_summary` (main phase); target (B,):
        its word target; lead_ids (B, S): lead pseudo-summaries (supervised loss "lead"). With
        rec_from_lead (pretraining), the reconstructor reads the lead pseudo-summaries instead.
        """
        start, pad = self.vocab.start_id, self.vocab.pad_id
        enc = self._encode(comp_ids, comp_mask)  # (B, L+1, D)
        # one decoder pass over [sampled summaries; lead targets]: a single forward keeps DDP happy
        targets = [t for t in (summary_ids, lead_ids) if t is not None]
        n = comp_ids.shape[0]
        dec_in = torch.cat([shift_right(t, start, pad) for t in targets], dim=0)  # (kB, S)
        reps = len(targets)
        enc_rep = enc.repeat(reps, 1, 1)  # (kB, L+1, D)
        logits = self.compressor(encoder_outputs=BaseModelOutput(last_hidden_state=enc_rep),
                                 attention_mask=comp_mask.repeat(reps, 1), decoder_input_ids=dec_in).logits
        out = SummaeOutput()
        if lead_ids is not None:
            out.losses["lead"] = token_nll(logits[-n:], lead_ids, pad)
        if summary_ids is not None:
            counts = word_counts(summary_ids, self.word_start)  # (B, S)
            steps = torch.arange(summary_ids.shape[1], device=summary_ids.device)
            masked = apply_mask(logits[:n].float(), self._rules(counts, target, steps))  # (B, S, V)
            keep = ~after_eos_mask(summary_ids, self.vocab.eos_id) & (summary_ids != pad)  # (B, S)
            out.summary_one_hot = straight_through(masked, summary_ids, self.tau) * keep[..., None]
            out.summary_mask = keep
        elif rec_from_lead and lead_ids is not None:
            out.summary_mask = lead_ids != pad
            out.summary_one_hot = F.one_hot(lead_ids, logits.shape[-1]).float() * out.summary_mask[..., None]
        if out.summary_one_hot is not None:
            out.rec_logits = self.reconstruct(out.summary_one_hot, out.summary_mask, doc_labels)
            out.losses["rec"] = token_nll(out.rec_logits, doc_labels, pad)
        return out

    def reconstruct(self, one_hot: torch.Tensor, mask: torch.Tensor, doc_labels: torch.Tensor) -> torch.Tensor:
        """Reconstructor logits (B, L, V) of the document, reading only the summary one-hots (B, S, V)."""
        embed = self.reconstructor.get_input_embeddings()
        scale = getattr(embed, "embed_scale", 1.0)  # scaled-embedding models multiply inside the lookup
        inputs_embeds = soft_embed(one_hot, embed.weight) * scale  # (B, S, D)
        dec_in = shift_right(doc_labels, self.vocab.start_id, self.vocab.pad_id)
        if self.training and self.rec_word_dropout > 0:
            # replace some teacher-forcing inputs with <unk>, so the summary has to carry the content
            drop = torch.rand(dec_in.shape, device=dec_in.device) < self.rec_word_dropout
            drop[:, 0] = False
            dec_in = torch.where(drop & (dec_in != self.vocab.pad_id), torch.full_like(dec_in, self.vocab.unk_id), dec_in)
        return self.reconstructor(inputs_embeds=inputs_embeds, attention_mask=mask.long(),
                                  decoder_input_ids=dec_in).logits

    @torch.no_grad()
    def reconstruction_nll(self, summary_ids: torch.Tensor, doc_labels: torch.Tensor) -> torch.Tensor:
        """Per-document reconstruction loss (nats/token) from hard summaries: (B, S), (B, L) -> (B,)."""
        mask = (summary_ids != self.vocab.pad_id)
        one_hot = F.one_hot(summary_ids, self.word_start.shape[0]).float() * mask[..., None]
        return token_nll_per_sequence(self.reconstruct(one_hot, mask, doc_labels), doc_labels, self.vocab.pad_id)

    # ---- saving ------------------------------------------------------------------------------------
    def save(self, directory: Path, tokenizer) -> None:
        for name, model in (("compressor", self.compressor), ("reconstructor", self.reconstructor)):
            model.generation_config.decoder_start_token_id = self.vocab.start_id
            model.generation_config.eos_token_id = self.vocab.eos_id
            model.generation_config.pad_token_id = self.vocab.pad_id
            model.generation_config.max_new_tokens = self.max_summary_tokens
            model.save_pretrained(directory / name)  # safetensors
            tokenizer.save_pretrained(directory / name)
