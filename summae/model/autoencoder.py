"""Compressor + reconstructor: two transformers seq2seq models joined by a text bottleneck.

The compressor reads `<len_k> document` and writes a k-word summary; the reconstructor reads only that
summary (as `one_hot @ E`) and rebuilds the document. The model computes its losses and returns them
by name; the trainer decides their weights.
"""

from __future__ import annotations

import inspect
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from safetensors.torch import save_file
from transformers.modeling_outputs import BaseModelOutput

from summae.decode.rules import (advance_word, after_eos_mask, apply_mask, choose, document_word_mask, empty_ends,
                                 ends_before, length_rule_mask, repeat_mask, rule_table, word_counts)
from summae.fast.bart import cross_projections_once
from summae.fast.spelling import choose_spelled
from summae.model.bottleneck import soft_embed, straight_through
from summae.fast.static_cache import StaticDecoder, supports as static_decoding_supported
from summae.model.losses import token_nll, token_nll_per_sequence
from summae.model.copy_head import CopyHead
from summae.tokenization import VocabInfo


COPY_HEAD_FILE = "copy_head.safetensors"


@dataclass
class SummaeOutput:
    losses: dict[str, torch.Tensor] = field(default_factory=dict)  # "rec", "lead": scalars
    summary_one_hot: torch.Tensor | None = None  # (B, S, V) straight-through one-hots of the summary
    summary_mask: torch.Tensor | None = None  # (B, S) True on summary tokens (EOS included)
    one_hot_ids: torch.Tensor | None = None  # (B, S) the token each one-hot row is hot at, -1 on all-zero rows
    summary_ids: torch.Tensor | None = None  # (B, S) the summaries written in this forward (write_temperature)






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
                 rec_word_dropout: float = 0.0, copy_head: CopyHead | None = None,
                 no_repeat_words: bool = False, whole_words: bool = False):
        super().__init__()
        self.compressor = compressor
        self.reconstructor = reconstructor
        self.copy_head = copy_head  # pointer over the document (None: vocabulary head only)
        self.no_repeat_words = no_repeat_words  # ban word-start pieces already in the summary
        self.vocab = vocab
        self.max_summary_tokens = max_summary_tokens
        self.tau = tau
        self.rec_word_dropout = rec_word_dropout
        # summaries are written with summae.fast.static_cache's static KV cache when the compressor is a BART model
        self.fast_decoding = static_decoding_supported(compressor)
        self.whole_words = whole_words  # copied words are spelled as in the document (document_word_mask)
        boundary = vocab.word_start.clone()
        boundary[vocab.eos_id] = True
        self.register_buffer("boundary", boundary, persistent=False)  # (V,) word-start pieces and EOS
        self.register_buffer("word_start", vocab.word_start.clone(), persistent=False)  # (V,)
        self.register_buffer("banned", vocab.banned.clone(), persistent=False)  # (V,)
        self.register_buffer("length_ids", torch.tensor(vocab.length_ids), persistent=False)  # (max_words,)
        # (5, V) forbidden tokens per decoding state, built once instead of at every decoding step
        self.register_buffer("rule_rows", rule_table(self.word_start, self.banned, vocab.eos_id), persistent=False)

    # ---- inputs --------------------------------------------------------------------------------
    def compressor_inputs(self, doc_ids: torch.Tensor, doc_mask: torch.Tensor, target: torch.Tensor):
        """Prepend the length token <len_k>: (B, L) -> (B, L + 1) ids and mask."""
        length_tok = self.length_ids[(target - 1).clamp(0, len(self.length_ids) - 1)]  # (B,)
        ids = torch.cat([length_tok[:, None], doc_ids], dim=1)
        mask = torch.cat([torch.ones_like(doc_mask[:, :1]), doc_mask], dim=1)
        return ids, mask

    def _rules(self, counts, target, step):
        return length_rule_mask(counts, target, step, max_steps=self.max_summary_tokens,
                                word_start=self.word_start, banned=self.banned, eos_id=self.vocab.eos_id,
                                table=self.rule_rows)

    def _spelled(self, forbid: torch.Tensor, ends: torch.Tensor, comp_ids: torch.Tensor) -> torch.Tensor:
        """forbid (..., V) plus the document's spelling of the word so far, which ends at the document positions
        `ends` (B, L-1) or (B, S, L-1) of the document's L tokens (advance_word, ends_before); where the two
        leave no token (the length rules want a word to end that the document continues), the rules decide."""
        spelled = forbid | document_word_mask(ends, comp_ids[:, 1:], self.boundary, self.vocab.pad_id)
        # where(spelled.all(-1), forbid, spelled) on uint8, whose CPU kernels vectorise a row broadcast (bool's do not)
        u8 = torch.uint8
        full = spelled.view(u8).amin(-1, keepdim=True)  # (..., 1): 1 where the spelling leaves no token
        return ((forbid.view(u8) & full) | (spelled.view(u8) & (full ^ 1))).view(torch.bool)

    def _encode(self, ids, mask):
        return self.compressor.get_encoder()(input_ids=ids, attention_mask=mask).last_hidden_state  # (B, L, D)

    def compressor_scores(self, enc: torch.Tensor, comp_mask: torch.Tensor, comp_ids: torch.Tensor,
                          dec_in: torch.Tensor, **cache_args):
        """Next-token scores (B, T, V) for decoder inputs dec_in (B, T), and the raw model output.

        Scores are logits, or log-probabilities of the copy mixture when the model has a copy head;
        either way softmax(scores) is the next-token distribution.
        """
        out = self.compressor(encoder_outputs=BaseModelOutput(last_hidden_state=enc), attention_mask=comp_mask,
                              decoder_input_ids=dec_in, output_hidden_states=self.copy_head is not None,
                              **cache_args)
        return self._head(out, enc, comp_mask, comp_ids), out

    def _head(self, out, enc, comp_mask, comp_ids, rows: slice = slice(None), targets=None) -> torch.Tensor:
        """Scores of `rows` of a compressor output: (b, T, V), or log-probabilities (b, T) at targets."""
        logits = out.logits[rows]
        if self.copy_head is not None:
            return self.copy_head(logits=logits, dec_h=out.decoder_hidden_states[-1][rows], enc_h=enc[rows],
                                  enc_mask=comp_mask[rows], src_ids=comp_ids[rows], targets=targets)
        if targets is None:
            return logits
        return torch.log_softmax(logits.float(), dim=-1).gather(2, targets[..., None]).squeeze(-1)

    # ---- writing summaries (no gradient) ---------------------------------------------------------
    @torch.no_grad()
    def write_summary(self, comp_ids: torch.Tensor, comp_mask: torch.Tensor, target: torch.Tensor, *,
                      temperature: float = 0.0, generator: torch.Generator | None = None,
                      enc: torch.Tensor | None = None, sync_free: bool = False) -> torch.Tensor:
        """Greedy (temperature 0) or sampled summaries under the length rules, with a KV cache.

        enc: the compressor's encoder states (B, L+1, D) when the caller already has them. sync_free: never
        read a value back to the host (all max_summary_tokens steps run, even once every row has ended), so
        that a CUDA graph can capture the decoding (summae.fast.cuda_graphs); the summaries are the same. Returns
        (B, S) ids: the summary, its EOS, then pad.
        """
        enc = self._encode(comp_ids, comp_mask) if enc is None else enc
        counts = torch.zeros(comp_ids.shape[0], dtype=torch.long, device=comp_ids.device)

        if self.fast_decoding and not self.compressor.get_decoder().training:
            static = StaticDecoder(self.compressor, enc, comp_mask, self.max_summary_tokens)
            enc_f = enc.float()  # the copy head works in fp32: convert a bf16 encoding once, not at every step

            def step_scores(tokens, step):
                logits, hidden = static.step(tokens[:, 0], step)
                if self.copy_head is None:
                    return logits, None
                # greedy decoding needs only the argmax: probabilities do, without a log over the vocabulary
                return self.copy_head(logits=logits[:, None], dec_h=hidden[:, None], enc_h=enc_f, enc_mask=comp_mask,
                                      src_ids=comp_ids, log=temperature > 0)[:, 0], None
        else:
            def step_scores(tokens, cache_args):
                scores, out = self.compressor_scores(enc, comp_mask, comp_ids, tokens, use_cache=True, **cache_args)
                return scores[:, -1], out

        used = torch.zeros(comp_ids.shape[0], self.word_start.shape[0], dtype=torch.bool, device=comp_ids.device)

        doc = comp_ids[:, 1:]  # (B, L): the document, without the length token
        ends = empty_ends(doc)  # where the word being written ends in the document (advance_word)

        def pick(scores, step):
            nonlocal ends
            forbid = self._rules(counts, target, step)
            if self.no_repeat_words:
                forbid = forbid | used
            if self.whole_words:  # the same choice as masking with _spelled, without the (B, V) mask
                nxt = choose_spelled(scores.float(), forbid, ends, doc, self.boundary, self.vocab.pad_id,
                                     temperature, generator, sync_free=sync_free)
                ends = advance_word(ends, nxt, doc, self.boundary, self.vocab.pad_id)
            else:
                nxt = choose(apply_mask(scores.float(), forbid), temperature, generator)
            counts.add_(self.word_start[nxt].long())
            used[torch.arange(nxt.shape[0], device=nxt.device), nxt] |= self.word_start[nxt]
            return nxt

        return self._decode_loop(self.compressor, step_scores, comp_ids.shape[0], self.max_summary_tokens, pick,
                                 static=self.fast_decoding and not self.compressor.get_decoder().training,
                                 stop_early=not sync_free)

    @torch.no_grad()
    def reconstruct_greedy(self, summary_ids: torch.Tensor, *, max_tokens: int) -> torch.Tensor:
        """The reconstructor's greedy rebuild of the documents from hard summaries: (B, S) -> (B, max_tokens)."""
        mask = (summary_ids != self.vocab.pad_id).long()
        encoder_out = BaseModelOutput(last_hidden_state=self.reconstructor.get_encoder()(
            input_ids=summary_ids, attention_mask=mask).last_hidden_state)

        def step_scores(tokens, cache_args):
            out = self.reconstructor(encoder_outputs=encoder_out, attention_mask=mask, decoder_input_ids=tokens,
                                     use_cache=True, **cache_args)
            return out.logits[:, -1], out

        return self._decode_loop(self.reconstructor, step_scores, summary_ids.shape[0], max_tokens,
                                 lambda scores, step: scores.argmax(-1))

    def _decode_loop(self, model, step_scores, batch: int, max_steps: int, pick, static: bool = False,
                     stop_early: bool = True) -> torch.Tensor:
        """Token-by-token decoding with a KV cache. step_scores(tokens (B, 1), cache_args) -> ((B, V), output), or
        with `static` step_scores(tokens, step) (the cache is the caller's); pick(scores, step) -> (B,) chooses
        each token. stop_early: stop once every row has ended (a host sync per step). Returns (B, max_steps):
        tokens, EOS, then pad."""
        device = self.word_start.device
        cache_kw = _cache_kwarg(model)
        tokens = torch.full((batch, 1), self.vocab.start_id, dtype=torch.long, device=device)
        out_ids = torch.full((batch, max_steps), self.vocab.pad_id, dtype=torch.long, device=device)
        done = torch.zeros(batch, dtype=torch.bool, device=device)
        cache = None
        for step in range(max_steps):
            if static:
                scores, _ = step_scores(tokens, step)
            else:
                scores, out = step_scores(tokens, {cache_kw: cache})
                cache = _returned_cache(out)
            nxt = pick(scores, step)  # (B,)
            nxt = torch.where(done, torch.full_like(nxt, self.vocab.pad_id), nxt)
            out_ids[:, step] = nxt
            done |= nxt == self.vocab.eos_id
            if stop_early and bool(done.all()):
                break
            tokens = nxt[:, None]
        return out_ids

    @torch.no_grad()
    def beam_summary(self, comp_ids: torch.Tensor, comp_mask: torch.Tensor, target: torch.Tensor, *,
                     beams: int) -> torch.Tensor:
        """Beam search under the same length rules (see summae.decode.beam). Returns (B, S) ids."""
        from summae.decode.beam import beam_search

        return beam_search(self, comp_ids, comp_mask, target, beams=beams)

    # ---- training forward passes -----------------------------------------------------------------
    def forward(self, *, comp_ids, comp_mask, doc_labels, summary_ids=None, target=None, lead_ids=None,
                rec_from_lead: bool = False, write_temperature: float | None = None,
                sup_rows: int = 0, writer=None) -> SummaeOutput:
        """Losses of one batch.

        comp_ids/comp_mask (B, L+1): compressor input with its length token; doc_labels (B, L): document + EOS,
        pad elsewhere; summary_ids (B, S): the summary written by `write_summary` (main phase); target (B,):
        its word target; lead_ids (B, S): lead pseudo-summaries (supervised loss "lead"). With
        rec_from_lead (pretraining), the reconstructor reads the lead pseudo-summaries instead. With
        write_temperature and no summary_ids, the summaries are written here first (out.summary_ids). The
        last `sup_rows` rows are labeled pairs (semi-supervised option): their lead_ids are references, and
        their loss is "sup" instead of "lead". writer: writes the summaries in place of `write_summary`, with the
        same arguments (a summae.fast.cuda_graphs.GraphedWriter: CUDA graphs).
        """
        start, pad = self.vocab.start_id, self.vocab.pad_id
        enc = self._encode(comp_ids, comp_mask)  # (B, L+1, D)
        written = None
        if summary_ids is None and write_temperature is not None:
            # write from this encoder pass (detached) instead of encoding the batch a second time; only the
            # decoding runs without dropout, as in write_summary under eval()
            self.compressor.get_decoder().eval()
            try:
                if writer is not None:
                    written = summary_ids = writer(enc.detach(), comp_ids, comp_mask, target, write_temperature)
                else:
                    written = summary_ids = self.write_summary(comp_ids, comp_mask, target, enc=enc.detach(),
                                                               temperature=write_temperature)
            finally:
                self.compressor.get_decoder().train(self.training)
        # one decoder pass over [sampled summaries; lead targets]: a single forward keeps DDP happy
        targets = [t for t in (summary_ids, lead_ids) if t is not None]
        n = comp_ids.shape[0]
        dec_in = torch.cat([shift_right(t, start, pad) for t in targets], dim=0)  # (kB, S)
        reps = len(targets)
        enc_rep = enc.repeat(reps, 1, 1)  # (kB, L+1, D)
        with cross_projections_once(self.compressor, n) if reps > 1 else nullcontext():
            out_c = self.compressor(encoder_outputs=BaseModelOutput(last_hidden_state=enc_rep),
                                    attention_mask=comp_mask.repeat(reps, 1), decoder_input_ids=dec_in,
                                    output_hidden_states=self.copy_head is not None)
        args = (enc_rep, comp_mask.repeat(reps, 1), comp_ids.repeat(reps, 1))
        out = SummaeOutput(summary_ids=written)
        if lead_ids is not None:
            logp = self._head(out_c, *args, rows=slice(-n, None), targets=lead_ids)  # (B, S)
            keep = (lead_ids != pad).float()
            free = n - sup_rows  # rows without a reference
            out.losses["lead"] = -(logp[:free] * keep[:free]).sum() / keep[:free].sum().clamp(min=1)
            if sup_rows:
                out.losses["sup"] = -(logp[free:] * keep[free:]).sum() / keep[free:].sum().clamp(min=1)
        if summary_ids is not None:
            scores = self._head(out_c, *args, rows=slice(0, n))  # (B, S, V)
            counts = word_counts(summary_ids, self.word_start)  # (B, S)
            steps = torch.arange(summary_ids.shape[1], device=summary_ids.device)
            forbid = self._rules(counts, target, steps)  # (B, S, V): the rules the summary was written under
            if self.no_repeat_words:
                forbid = forbid | repeat_mask(summary_ids, self.word_start)
            if self.whole_words:
                ends = ends_before(summary_ids, comp_ids[:, 1:], self.boundary, pad)  # (B, S, L-1)
                forbid = self._spelled(forbid, ends, comp_ids)
            keep = ~after_eos_mask(summary_ids, self.vocab.eos_id) & (summary_ids != pad)  # (B, S)
            out.summary_one_hot = straight_through(scores, summary_ids, self.tau, forbid=forbid, keep=keep)
            out.summary_mask = keep
            out.one_hot_ids = torch.where(keep, summary_ids, -1)  # hard by construction: embedded by lookup
        elif rec_from_lead and lead_ids is not None:
            out.summary_mask = lead_ids != pad
            out.summary_one_hot = F.one_hot(lead_ids, self.word_start.shape[0]).float() * out.summary_mask[..., None]
            out.one_hot_ids = torch.where(out.summary_mask, lead_ids, -1)
        if out.summary_one_hot is not None:
            out.losses["rec"] = self.reconstruction_loss(out.summary_one_hot, out.summary_mask, doc_labels,
                                                         ids=out.one_hot_ids)
        return out

    def reconstruct(self, one_hot: torch.Tensor, mask: torch.Tensor, doc_labels: torch.Tensor,
                    ids: torch.Tensor | None = None) -> torch.Tensor:
        """Reconstructor logits (B, L, V) of the document, reading only the summary one-hots (B, S, V); ids (B, S):
        their hot tokens where they are hard (bottleneck.soft_embed)."""
        inputs_embeds, dec_in = self._reconstructor_inputs(one_hot, doc_labels, ids)
        return self.reconstructor(inputs_embeds=inputs_embeds, attention_mask=mask.long(),
                                  decoder_input_ids=dec_in).logits

    def reconstruction_loss(self, one_hot: torch.Tensor, mask: torch.Tensor, doc_labels: torch.Tensor,
                            ids: torch.Tensor | None = None) -> torch.Tensor:
        """token_nll(self.reconstruct(one_hot, mask, doc_labels, ids), doc_labels): the training loss "rec".

        For a BART reconstructor (the one summae builds) the V-way output head and its softmax run only where a
        label is a document token, not on the padding of the batch's width: with 48-token batches about a
        quarter of the positions, and the head is the largest matmul of the step (docs/performance.md).
        """
        from transformers import BartForConditionalGeneration

        rec = self.reconstructor
        if type(rec) is not BartForConditionalGeneration:  # other architectures: the whole (B, L, V) logits
            return token_nll(self.reconstruct(one_hot, mask, doc_labels, ids), doc_labels, self.vocab.pad_id)
        inputs_embeds, dec_in = self._reconstructor_inputs(one_hot, doc_labels, ids)
        hidden = rec.model(inputs_embeds=inputs_embeds, attention_mask=mask.long(),
                           decoder_input_ids=dec_in).last_hidden_state  # (B, L, D)
        keep = doc_labels != self.vocab.pad_id
        logits = rec.lm_head(hidden[keep]) + rec.final_logits_bias  # (N, V): the labelled positions only
        return F.cross_entropy(logits.float(), doc_labels[keep])

    def _reconstructor_inputs(self, one_hot: torch.Tensor, doc_labels: torch.Tensor, ids: torch.Tensor | None = None):
        """The reconstructor's encoder input embeddings (B, S, D) from the one-hots, and its teacher-forced
        decoder input (B, L): the document shifted right, some tokens <unk> in training (rec_word_dropout)."""
        embed = self.reconstructor.get_input_embeddings()
        scale = getattr(embed, "embed_scale", 1.0)  # scaled-embedding models multiply inside the lookup
        inputs_embeds = soft_embed(one_hot, embed.weight, ids) * scale  # (B, S, D)
        dec_in = shift_right(doc_labels, self.vocab.start_id, self.vocab.pad_id)
        if self.training and self.rec_word_dropout > 0:
            # replace some teacher-forcing inputs with <unk>, so the summary has to carry the content
            drop = torch.rand(dec_in.shape, device=dec_in.device) < self.rec_word_dropout
            drop[:, 0] = False
            dec_in = torch.where(drop & (dec_in != self.vocab.pad_id), torch.full_like(dec_in, self.vocab.unk_id), dec_in)
        return inputs_embeds, dec_in

    @torch.no_grad()
    def reconstruction_nll(self, summary_ids: torch.Tensor, doc_labels: torch.Tensor) -> torch.Tensor:
        """Per-document reconstruction loss (nats/token) from hard summaries: (B, S), (B, L) -> (B,)."""
        mask = (summary_ids != self.vocab.pad_id)
        one_hot = F.one_hot(summary_ids, self.word_start.shape[0]).float() * mask[..., None]
        ids = torch.where(mask, summary_ids, -1)
        return token_nll_per_sequence(self.reconstruct(one_hot, mask, doc_labels, ids), doc_labels, self.vocab.pad_id)

    # ---- saving ------------------------------------------------------------------------------------
    def save(self, directory: Path, tokenizer) -> None:
        for name, model in (("compressor", self.compressor), ("reconstructor", self.reconstructor)):
            model.generation_config.decoder_start_token_id = self.vocab.start_id
            model.generation_config.eos_token_id = self.vocab.eos_id
            model.generation_config.pad_token_id = self.vocab.pad_id
            model.generation_config.max_new_tokens = self.max_summary_tokens
            model.save_pretrained(directory / name)  # safetensors
            tokenizer.save_pretrained(directory / name)
        if self.copy_head is not None:
            # beside the transformers weights: plain AutoModelForSeq2SeqLM still loads compressor/ (without copying)
            save_file({k: v.detach().contiguous().cpu() for k, v in self.copy_head.state_dict().items()},
                      str(directory / "compressor" / COPY_HEAD_FILE))
