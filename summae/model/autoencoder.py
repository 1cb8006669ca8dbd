"""The auto-encoder: a compressor and a reconstructor, two transformers seq2seq models joined by a text
bottleneck.

The compressor reads `<len_k> document` and writes a k-word summary; the reconstructor reads only that
summary (as `one_hot @ E`) and rebuilds the document (or N tokens of a long one: model.rec_target_tokens,
rec_target). One forward per training phase, each returning its losses by name (the trainer weights them):

- pretrain_losses: the compressor learns to write the pseudo-summaries (teacher forcing) and the
  reconstructor learns to rebuild the document from them;
- autoencode: the compressor writes summaries (no gradient), scores what it wrote under the rules it wrote
  it with, turns it into straight-through one-hots, and the reconstructor rebuilds the document from those
  alone, so the reconstruction loss reaches the compressor. The pseudo-summary loss stays beside it.

Decoding (greedy, sampled, beam) lives in summae.decode; the fast paths in summae.fast.
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from torch import nn
from transformers.modeling_outputs import BaseModelOutput

from summae import fast
from summae.decode import beam, greedy
from summae.decode.rules import DecodingRules, after_eos_mask
from summae.fast.bart import cross_projections_once, labelled_nll, labelled_nll_applies
from summae.fast.static_cache import supports as static_decoding_supported
from summae.model.bottleneck import soft_embed, straight_through
from summae.model.copy_head import CopyHead
from summae.model.losses import token_nll, token_nll_per_sequence
from summae.tokenization import VocabInfo

COPY_HEAD_FILE = "copy_head.safetensors"
PHASES = ("pretrain", "autoencode")


@dataclass
class SummaeOutput:
    losses: dict[str, torch.Tensor] = field(default_factory=dict)  # "rec", "lead", "sup": scalars
    summary_one_hot: torch.Tensor | None = None  # (B, S, V) straight-through one-hots of the summary
    summary_mask: torch.Tensor | None = None  # (B, S) True on summary tokens (EOS included)
    one_hot_ids: torch.Tensor | None = None  # (B, S) the token each one-hot row is hot at, -1 on all-zero rows
    summary_ids: torch.Tensor | None = None  # (B, S) the summaries written in this forward
    summary_logp: torch.Tensor | None = None  # (B,) log-probability of each summary as it was sampled (policy=True)


def shift_right(labels: torch.Tensor, start_id: int, pad_id: int) -> torch.Tensor:
    """Teacher-forcing inputs: [start, y_0 .. y_{T-2}]. (B, T) -> (B, T)."""
    out = labels.new_full(labels.shape, pad_id)
    out[:, 0] = start_id
    out[:, 1:] = labels[:, :-1]
    return out


class SummaeModel(nn.Module):
    def __init__(self, compressor, reconstructor, vocab: VocabInfo, *, max_summary_tokens: int, tau: float = 1.0,
                 rec_word_dropout: float = 0.0, straight_through: bool = True, copy_head: CopyHead | None = None,
                 rec_copy_head: CopyHead | None = None, rec_target_tokens: int = 0,
                 no_repeat_words: bool = False, whole_words: bool = False, in_order: bool = False,
                 span_bonus: float = 0.0):
        super().__init__()
        self.compressor = compressor
        self.reconstructor = reconstructor
        self.copy_head = copy_head  # pointer over the document (None: vocabulary head only)
        self.rec_copy_head = rec_copy_head  # the reconstructor's pointer over the summary (None: vocabulary only)
        self.vocab = vocab
        self.max_summary_tokens = max_summary_tokens
        self.tau = tau  # softmax temperature of the straight-through gradients, > 0
        self.rec_word_dropout = rec_word_dropout  # share of the reconstructor's teacher-forcing inputs -> <unk>
        self.straight_through = straight_through  # False: the one-hots are detached (no gradient to the compressor)
        self.rec_target_tokens = rec_target_tokens  # document tokens the reconstructor rebuilds; 0 = all (rec_target)
        self.rules = DecodingRules(vocab, max_summary_tokens=max_summary_tokens, no_repeat_words=no_repeat_words,
                                   whole_words=whole_words, in_order=in_order, span_bonus=span_bonus)
        # summae.fast.static_cache can write this compressor's summaries (BART, the architecture summae builds)
        self.fast_decoding = static_decoding_supported(compressor)
        self.register_buffer("length_ids", torch.tensor(vocab.length_ids), persistent=False)  # (max_words,)

    @property
    def word_start(self) -> torch.Tensor:  # (V,) True on pieces that begin a word
        return self.rules.word_start

    @property
    def no_repeat_words(self) -> bool:
        return self.rules.no_repeat_words

    @property
    def whole_words(self) -> bool:
        return self.rules.whole_words

    def forward(self, phase: str, **inputs) -> SummaeOutput:
        """The losses of one training phase (see the module docstring): forward("pretrain", ...) is
        pretrain_losses(...), forward("autoencode", ...) is autoencode(...). One call per step through the
        (possibly distributed) module, so that gradients are synchronised."""
        if phase == "pretrain":
            return self.pretrain_losses(**inputs)
        if phase == "autoencode":
            return self.autoencode(**inputs)
        raise ValueError(f"phase must be one of {PHASES}, got {phase!r}")

    # ---- the compressor ----------------------------------------------------------------------------
    def compressor_inputs(self, doc_ids: torch.Tensor, doc_mask: torch.Tensor, target: torch.Tensor):
        """Prepend the length token <len_k>: (B, L) -> (B, L + 1) ids and mask."""
        length_tok = self.length_ids[(target - 1).clamp(0, len(self.length_ids) - 1)]  # (B,)
        ids = torch.cat([length_tok[:, None], doc_ids], dim=1)  # (B, L + 1)
        mask = torch.cat([torch.ones_like(doc_mask[:, :1]), doc_mask], dim=1)  # (B, L + 1)
        return ids, mask

    def encode(self, comp_ids: torch.Tensor, comp_mask: torch.Tensor) -> torch.Tensor:
        """The compressor's encoder states (B, L+1, D)."""
        return self.compressor.get_encoder()(input_ids=comp_ids, attention_mask=comp_mask).last_hidden_state

    def compressor_scores(self, enc: torch.Tensor, comp_mask: torch.Tensor, comp_ids: torch.Tensor,
                          dec_in: torch.Tensor, **cache_args):
        """Next-token scores (B, T, V) for decoder inputs dec_in (B, T), and the raw model output.

        Scores are logits, or log-probabilities of the copy mixture when the model has a copy head;
        either way softmax(scores) is the next-token distribution.
        """
        out = self.compressor(encoder_outputs=BaseModelOutput(last_hidden_state=enc), attention_mask=comp_mask,
                              decoder_input_ids=dec_in, output_hidden_states=self.copy_head is not None,
                              **cache_args)
        return self.head(out, enc, comp_mask, comp_ids), out

    def head(self, out, enc, comp_mask, comp_ids, rows: slice = slice(None), targets=None) -> torch.Tensor:
        """Scores of `rows` of a compressor output: (b, T, V), or log-probabilities (b, T) at targets."""
        logits = out.logits[rows]
        if self.copy_head is not None:
            return self.copy_head(logits=logits, dec_h=out.decoder_hidden_states[-1][rows], enc_h=enc[rows],
                                  enc_mask=comp_mask[rows], src_ids=comp_ids[rows], targets=targets)
        if targets is None:
            return logits
        return torch.log_softmax(logits.float(), dim=-1).gather(2, targets[..., None]).squeeze(-1)

    def teacher_forced(self, enc: torch.Tensor, comp_mask: torch.Tensor, targets: list[torch.Tensor]):
        """One compressor decoder pass over the targets stacked (k x (B, S) -> (kB, S)), all reading the same
        encoder states: a single forward, which keeps DistributedDataParallel to one pass per step."""
        start, pad = self.vocab.start_id, self.vocab.pad_id
        dec_in = torch.cat([shift_right(t, start, pad) for t in targets], dim=0)  # (kB, S)
        reps = len(targets)
        enc_rep = enc.repeat(reps, 1, 1)  # (kB, L+1, D)
        # the fast path projects the repeated encoder states' cross-attention keys and values once
        shared = cross_projections_once(self.compressor, enc.shape[0]) if reps > 1 and fast.enabled() else nullcontext()
        with shared:
            return self.compressor(encoder_outputs=BaseModelOutput(last_hidden_state=enc_rep),
                                   attention_mask=comp_mask.repeat(reps, 1), decoder_input_ids=dec_in,
                                   output_hidden_states=self.copy_head is not None), enc_rep

    def pseudo_losses(self, out_c, enc_rep, comp_mask, comp_ids, pseudo_ids, sup_rows: int) -> dict:
        """NLL of the pseudo-summaries (B, S) from the last B rows of a teacher-forced pass: "lead", and "sup" for
        the last `sup_rows` rows, whose pseudo-summaries are references (the semi-supervised option)."""
        reps, n = enc_rep.shape[0] // comp_ids.shape[0], comp_ids.shape[0]
        args = (enc_rep, comp_mask.repeat(reps, 1), comp_ids.repeat(reps, 1))
        logp = self.head(out_c, *args, rows=slice(-n, None), targets=pseudo_ids)  # (B, S)
        keep = (pseudo_ids != self.vocab.pad_id).float()
        free = n - sup_rows  # rows without a reference
        losses = {"lead": -(logp[:free] * keep[:free]).sum() / keep[:free].sum().clamp(min=1)}
        if sup_rows:
            losses["sup"] = -(logp[free:] * keep[free:]).sum() / keep[free:].sum().clamp(min=1)
        return losses

    # ---- phase 1: pseudo-summary pretraining ---------------------------------------------------------
    def pretrain_losses(self, *, comp_ids, comp_mask, doc_labels, pseudo_ids, sup_rows: int = 0) -> SummaeOutput:
        """The compressor learns to write the pseudo-summaries pseudo_ids (B, S) from comp_ids (B, L+1); the
        reconstructor learns to rebuild doc_labels (B, L) (document + EOS, then pad) from them."""
        enc = self.encode(comp_ids, comp_mask)  # (B, L+1, D)
        out_c, enc_rep = self.teacher_forced(enc, comp_mask, [pseudo_ids])
        out = SummaeOutput(losses=self.pseudo_losses(out_c, enc_rep, comp_mask, comp_ids, pseudo_ids, sup_rows))
        out.summary_one_hot, out.summary_mask, out.one_hot_ids = self.hard_summary(pseudo_ids)
        out.losses["rec"] = self.reconstruction_loss(out.summary_one_hot, out.summary_mask, doc_labels,
                                                     ids=out.one_hot_ids)
        return out

    # ---- phase 2: the auto-encoder -------------------------------------------------------------------
    def autoencode(self, *, comp_ids, comp_mask, doc_labels, target, pseudo_ids=None, sup_rows: int = 0,
                   temperature: float = 1.0, summary_ids=None, writer=None, policy: bool = False) -> SummaeOutput:
        """Write -> bottleneck -> reconstruct, from one encoder pass.

        target (B,): the summaries' word targets. The compressor samples summaries at `temperature` (no
        gradient, no dropout), unless summary_ids (B, S) are given; writer: writes them in place of
        summae.decode.greedy.write_summary, with the same arguments (summae.fast.cuda_graphs). pseudo_ids
        (B, S): when given, their loss "lead" (and "sup", see pseudo_losses) is computed from the same pass.
        policy: also return summary_logp, each summary's log-probability under the distribution it was sampled
        from (the rules' masked softmax at `temperature`, or at 1 when it is 0: greedy), with its gradient: the policy
        gradient's term.
        """
        enc = self.encode(comp_ids, comp_mask)  # (B, L+1, D)
        out = SummaeOutput()
        # 1) write, as at inference (no dropout) and detached: the summary's tokens are chosen, not differentiated
        if summary_ids is None:
            write = writer if writer is not None else (
                lambda e, ids, mask, tgt, temp: self.write_summary(ids, mask, tgt, enc=e, temperature=temp))
            with greedy.eval_mode(self.compressor.get_decoder()):
                summary_ids = out.summary_ids = write(enc.detach(), comp_ids, comp_mask, target, temperature)
        # 2) score what was written, and the pseudo-summaries, in one teacher-forced pass
        targets = [summary_ids] + ([pseudo_ids] if pseudo_ids is not None else [])
        out_c, enc_rep = self.teacher_forced(enc, comp_mask, targets)
        if pseudo_ids is not None:
            out.losses.update(self.pseudo_losses(out_c, enc_rep, comp_mask, comp_ids, pseudo_ids, sup_rows))
        n = comp_ids.shape[0]
        reps = len(targets)
        scores = self.head(out_c, enc_rep, comp_mask.repeat(reps, 1), comp_ids.repeat(reps, 1),
                           rows=slice(0, n))  # (B, S, V)
        # 3) the bottleneck: hard one-hots forward, softmax gradients backward, under the rules it was written with
        forbid = self.rules.sequence(summary_ids, target, comp_ids)  # (B, S, V)
        keep = ~after_eos_mask(summary_ids, self.vocab.eos_id) & (summary_ids != self.vocab.pad_id)  # (B, S)
        out.summary_one_hot = straight_through(scores, summary_ids, self.tau, forbid=forbid, keep=keep)  # (B, S, V)
        if not self.straight_through:
            out.summary_one_hot = out.summary_one_hot.detach()
        out.summary_mask = keep
        if policy:
            out.summary_logp = self.sequence_logp(scores, summary_ids, forbid, keep, temperature or 1.0)
        out.one_hot_ids = torch.where(keep, summary_ids, -1)  # hard by construction: embedded by lookup
        # 4) reconstruct the document from the summary alone
        out.losses["rec"] = self.reconstruction_loss(out.summary_one_hot, out.summary_mask, doc_labels,
                                                     ids=out.one_hot_ids)
        return out

    @staticmethod
    def sequence_logp(scores: torch.Tensor, ids: torch.Tensor, forbid: torch.Tensor, keep: torch.Tensor,
                      temperature: float) -> torch.Tensor:
        """log-probability (B,) of the token rows ids (B, S) at the kept positions keep (B, S), under
        softmax(scores (B, S, V) / temperature) with the forbidden tokens forbid (B, S, V) masked out; a written
        token is never masked (the rules it was sampled under may have been finer than `forbid`)."""
        forbid = forbid.scatter(2, ids[..., None], False)
        logp = torch.log_softmax(scores.float().masked_fill(forbid, float("-inf")) / temperature, dim=-1)
        return (logp.gather(2, ids[..., None]).squeeze(-1) * keep.float()).sum(1)

    # ---- the reconstructor ---------------------------------------------------------------------------
    def rec_target(self, doc_labels: torch.Tensor) -> torch.Tensor:
        """The part of each document the reconstructor rebuilds: (B, L) -> (B, min(L, N)), N = rec_target_tokens.

        The rule (model.rec_target_tokens): 0, or documents of at most N tokens with their EOS: the whole document.
        Otherwise N tokens. In training, a window whose start is drawn uniformly among the positions that leave N
        tokens (the last such window ends with the EOS), then moved back to the start of its word: over the steps
        every part of the document is asked for, so the summary must carry all of it. In evaluation (scores,
        train.select's NLL), the first N tokens: deterministic. The decoder reads a window at positions 0..N-1 (it
        is never told the offset), so a long document costs the reconstructor N tokens, not L, in its decoder, its
        output head and their backward pass.
        """
        n = self.rec_target_tokens
        if not n or doc_labels.shape[1] <= n:
            return doc_labels
        if not self.training:
            return doc_labels[:, :n]
        batch, width = doc_labels.shape
        positions = torch.arange(width, device=doc_labels.device)
        lengths = (doc_labels != self.vocab.pad_id).sum(1)  # (B,) tokens with EOS
        latest = (lengths - n).clamp(min=0)  # (B,) the last start that leaves N tokens
        start = (torch.rand(batch, device=doc_labels.device) * (latest + 1)).long().clamp(max=width - n)  # (B,)
        # back to the start of the word it falls in: a window begins with a whole word, as a document does
        word_at = torch.where(self.word_start[doc_labels], positions, 0).cummax(1).values  # (B, L) word start at/before
        start = word_at.gather(1, start[:, None])  # (B, 1)
        return doc_labels.gather(1, start + positions[:n])  # (B, N)

    def reconstruct(self, one_hot: torch.Tensor, mask: torch.Tensor, doc_labels: torch.Tensor,
                    ids: torch.Tensor | None = None) -> torch.Tensor:
        """Reconstructor logits (B, L, V) of the document, reading only the summary one-hots (B, S, V); ids (B, S):
        their hot tokens where they are hard (model.bottleneck.soft_embed)."""
        inputs_embeds, dec_in = self.reconstructor_inputs(one_hot, doc_labels, ids)
        return self.reconstructor(inputs_embeds=inputs_embeds, attention_mask=mask.long(),
                                  decoder_input_ids=dec_in).logits

    def reconstruction_logp(self, one_hot: torch.Tensor, mask: torch.Tensor, doc_labels: torch.Tensor,
                            ids: torch.Tensor) -> torch.Tensor:
        """With the reconstructor's copy head: log p(document token | summary, prefix), (B, L), from the mixture
        of the vocabulary head and copying the summary's tokens ids (B, S) (-1 on empty rows)."""
        inputs_embeds, dec_in = self.reconstructor_inputs(one_hot, doc_labels, ids)
        out = self.reconstructor(inputs_embeds=inputs_embeds, attention_mask=mask.long(), decoder_input_ids=dec_in,
                                 output_hidden_states=True)
        return self.rec_copy_head(logits=out.logits, dec_h=out.decoder_hidden_states[-1],
                                  enc_h=out.encoder_last_hidden_state, enc_mask=mask, src_ids=ids.clamp(min=0),
                                  targets=doc_labels)  # (B, L)

    def reconstruction_loss(self, one_hot: torch.Tensor, mask: torch.Tensor, doc_labels: torch.Tensor,
                            ids: torch.Tensor | None = None) -> torch.Tensor:
        """token_nll(self.reconstruct(one_hot, mask, target, ids), target): the training loss "rec", target =
        self.rec_target(doc_labels) (the whole document by default)."""
        doc_labels = self.rec_target(doc_labels)
        if self.rec_copy_head is not None:
            keep = (doc_labels != self.vocab.pad_id).float()
            return -(self.reconstruction_logp(one_hot, mask, doc_labels, ids) * keep).sum() / keep.sum().clamp(min=1)
        if fast.enabled() and labelled_nll_applies(self.reconstructor):
            # the V-way output head only where a label is a document token, not on the batch's padding
            inputs_embeds, dec_in = self.reconstructor_inputs(one_hot, doc_labels, ids)
            return labelled_nll(self.reconstructor, inputs_embeds, mask, dec_in, doc_labels, self.vocab.pad_id)
        return token_nll(self.reconstruct(one_hot, mask, doc_labels, ids), doc_labels, self.vocab.pad_id)

    def reconstructor_inputs(self, one_hot: torch.Tensor, doc_labels: torch.Tensor, ids: torch.Tensor | None = None):
        """The reconstructor's encoder input embeddings (B, S, D) from the one-hots, and its teacher-forced
        decoder input (B, L): the document shifted right, some tokens <unk> in training (rec_word_dropout)."""
        embed = self.reconstructor.get_input_embeddings()
        scale = getattr(embed, "embed_scale", 1.0)  # scaled-embedding models multiply inside the lookup
        inputs_embeds = soft_embed(one_hot, embed.weight, ids) * scale  # (B, S, D)
        dec_in = shift_right(doc_labels, self.vocab.start_id, self.vocab.pad_id)  # (B, L)
        if self.training and self.rec_word_dropout > 0:
            # replace some teacher-forcing inputs with <unk>, so the summary has to carry the content
            drop = torch.rand(dec_in.shape, device=dec_in.device) < self.rec_word_dropout
            drop[:, 0] = False
            dec_in = torch.where(drop & (dec_in != self.vocab.pad_id), torch.full_like(dec_in, self.vocab.unk_id),
                                 dec_in)
        return inputs_embeds, dec_in

    def hard_summary(self, summary_ids: torch.Tensor):
        """A written summary (B, S) (EOS, then pad) as the reconstructor reads it: one-hots (B, S, V), the mask of
        its tokens (B, S) and its ids with -1 on padding (B, S)."""
        mask = summary_ids != self.vocab.pad_id
        one_hot = F.one_hot(summary_ids, self.word_start.shape[0]).float() * mask[..., None]  # (B, S, V)
        return one_hot, mask, torch.where(mask, summary_ids, -1)

    @torch.no_grad()
    def reconstruction_nll(self, summary_ids: torch.Tensor, doc_labels: torch.Tensor) -> torch.Tensor:
        """Per-document reconstruction loss (nats/token) from hard summaries: (B, S), (B, L) -> (B,), over
        self.rec_target(doc_labels) (the whole document by default)."""
        doc_labels = self.rec_target(doc_labels)
        one_hot, mask, ids = self.hard_summary(summary_ids)
        if self.rec_copy_head is not None:
            keep = (doc_labels != self.vocab.pad_id).float()
            logp = self.reconstruction_logp(one_hot, mask, doc_labels, ids)  # (B, L)
            return -(logp * keep).sum(1) / keep.sum(1).clamp(min=1)
        return token_nll_per_sequence(self.reconstruct(one_hot, mask, doc_labels, ids), doc_labels, self.vocab.pad_id)

    # ---- decoding (summae.decode) --------------------------------------------------------------------
    def write_summary(self, comp_ids, comp_mask, target, **kwargs) -> torch.Tensor:
        """summae.decode.greedy.write_summary(self, ...): greedy or sampled summaries (B, S)."""
        return greedy.write_summary(self, comp_ids, comp_mask, target, **kwargs)

    def beam_summary(self, comp_ids, comp_mask, target, *, beams: int) -> torch.Tensor:
        """summae.decode.beam.beam_search(self, ...): the best of `beams` hypotheses (B, S)."""
        return beam.beam_search(self, comp_ids, comp_mask, target, beams=beams)

    def reconstruct_greedy(self, summary_ids: torch.Tensor, *, max_tokens: int, no_repeat_ngram: int = 0,
                           min_tokens: torch.Tensor | None = None) -> torch.Tensor:
        """summae.decode.greedy.reconstruct_greedy(self, ...): (B, S) -> (B, max_tokens), at most rec_target_tokens
        (a reconstructor trained on N-token windows rebuilds N tokens: its decoder never saw later positions)."""
        if self.rec_target_tokens:
            max_tokens = min(max_tokens, self.rec_target_tokens)
        return greedy.reconstruct_greedy(self, summary_ids, max_tokens=max_tokens, no_repeat_ngram=no_repeat_ngram,
                                         min_tokens=min_tokens)

    # ---- saving ------------------------------------------------------------------------------------
    def save(self, directory: Path, tokenizer) -> None:
        for name, model in (("compressor", self.compressor), ("reconstructor", self.reconstructor)):
            model.generation_config.decoder_start_token_id = self.vocab.start_id
            model.generation_config.eos_token_id = self.vocab.eos_id
            model.generation_config.pad_token_id = self.vocab.pad_id
            model.generation_config.max_new_tokens = self.max_summary_tokens
            model.save_pretrained(directory / name)  # safetensors
            tokenizer.save_pretrained(directory / name)
        # beside the transformers weights: plain AutoModelForSeq2SeqLM still loads compressor/ (without copying)
        for name, head in (("compressor", self.copy_head), ("reconstructor", self.rec_copy_head)):
            if head is not None:
                save_file({k: v.detach().contiguous().cpu() for k, v in head.state_dict().items()},
                          str(directory / name / COPY_HEAD_FILE))
