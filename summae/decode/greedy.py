"""Greedy and sampled decoding with a KV cache: the compressor writes summaries under the decoding rules, the
reconstructor rebuilds documents from them.

`write_summary` is the one place summaries are written, for training (sampled, from the training forward's
encoder states), dev evaluation, `Summarizer` and `Scorer` (greedy). Its fast paths sit behind summae.fast's
seam: the static KV cache (fast/static_cache.py) for BART compressors and whole-word choice without the
(B, V) spelling mask (fast/spelling.py); with `summae.fast.reference_paths()` it runs transformers'
incremental decoding and the plain masked choice, and writes the same summaries.
"""

from __future__ import annotations

import inspect
from contextlib import contextmanager

import torch

from summae import fast
from summae.decode.rules import (advance_floor, advance_word, apply_mask, choose, document_words, empty_ends,
                                 order_mask, order_start, span_followers, with_span_bonus)
from summae.fast.spelling import choose_spelled
from summae.fast.static_cache import StaticDecoder


def cache_kwarg(model) -> str:
    """The KV-cache argument of a transformers model's forward: transformers 5.24 renamed `past_key_values`
    to `cache`, and summae supports both."""
    params = inspect.signature(type(model).forward).parameters
    return "cache" if "cache" in params else "past_key_values"


def returned_cache(out):
    return out.cache if getattr(out, "cache", None) is not None else getattr(out, "past_key_values", None)


@contextmanager
def eval_mode(module: torch.nn.Module):
    """Within: `module` without dropout (summaries are written as at inference, also in the middle of a
    training step); its train/eval mode is restored after."""
    was_training = module.training
    module.eval()
    try:
        yield
    finally:
        module.train(was_training)


@torch.no_grad()
def write_summary(model, comp_ids: torch.Tensor, comp_mask: torch.Tensor, target: torch.Tensor, *,
                  temperature: float = 0.0, generator: torch.Generator | None = None,
                  enc: torch.Tensor | None = None, sync_free: bool = False) -> torch.Tensor:
    """Greedy (temperature 0) or sampled summaries of `target` words under the decoding rules.

    comp_ids/comp_mask (B, L+1): the compressor input with its length token; enc: the compressor's encoder
    states (B, L+1, D) when the caller already has them. sync_free: never read a value back to the host (all
    max_summary_tokens steps run, even once every row has ended), so that a CUDA graph can capture the
    decoding (summae.fast.cuda_graphs); the summaries are the same. Returns (B, S) ids: the summary, its EOS,
    then pad.
    """
    decoder = model.compressor.get_decoder()
    with eval_mode(decoder):
        enc = model.encode(comp_ids, comp_mask) if enc is None else enc
        rules, batch = model.rules, comp_ids.shape[0]
        counts = torch.zeros(batch, dtype=torch.long, device=comp_ids.device)  # (B,) words written so far
        used = torch.zeros(batch, rules.word_start.shape[0], dtype=torch.bool, device=comp_ids.device)  # (B, V)
        doc = comp_ids[:, 1:]  # (B, L): the document, without the length token
        ends = empty_ends(doc)  # where the word being written ends in the document (advance_word)
        floor = order_start(doc)  # (B,) document position the next copied word must start after (in_order)
        held = document_words(doc, rules.word_start, rules.pad_id) if rules.in_order else None  # (B, V)
        # the static cache: where it is switched on, and always for CUDA graphs' capture (sync_free)
        static = fast.enabled() and model.fast_decoding and (fast.STATIC_CACHE or sync_free)
        # summary.span_bonus: greedy summaries only (dev evaluation, summarizing), never the training samples
        span = rules.span_bonus if temperature == 0 else 0.0
        # the static path's greedy scores are the copy mixture's probabilities (no log over the vocabulary)
        probabilities = static and model.copy_head is not None and temperature == 0

        if static:
            cache = StaticDecoder(model.compressor, enc, comp_mask, model.max_summary_tokens)
            enc_f = enc.float()  # the copy head works in fp32: convert a bf16 encoding once, not at every step

            def step_scores(tokens, step):
                logits, hidden = cache.step(tokens[:, 0], step)
                if model.copy_head is None:
                    return logits, None
                # greedy decoding needs only the argmax: probabilities do, without a log over the vocabulary
                return model.copy_head(logits=logits[:, None], dec_h=hidden[:, None], enc_h=enc_f,
                                       enc_mask=comp_mask, src_ids=comp_ids, log=temperature > 0)[:, 0], None
        else:
            def step_scores(tokens, cache_args):
                scores, out = model.compressor_scores(enc, comp_mask, comp_ids, tokens, use_cache=True, **cache_args)
                return scores[:, -1], out

        def pick(scores, step):
            nonlocal ends, floor
            forbid = rules.step(counts, target, step)  # (B, V)
            if rules.no_repeat_words:
                forbid = forbid | used
            if rules.in_order:
                forbid = forbid | order_mask(floor, doc, rules.word_start, rules.pad_id, held)
            if span > 0:
                scores = with_span_bonus(scores, span_followers(ends, doc, rules.word_start), span,
                                         probabilities=probabilities)
            if rules.whole_words:
                if fast.enabled():  # the same choice, without building the (B, V) spelling mask
                    nxt = choose_spelled(scores.float(), forbid, ends, doc, rules.boundary, rules.pad_id,
                                         temperature, generator, sync_free=sync_free)
                else:
                    nxt = choose(apply_mask(scores.float(), rules.spelled(forbid, ends, comp_ids)), temperature,
                                 generator)
                ends = advance_word(ends, nxt, doc, rules.boundary, rules.pad_id)
            else:
                nxt = choose(apply_mask(scores.float(), forbid), temperature, generator)
                if span > 0:  # the bonus reads where the last word ends in the document
                    ends = advance_word(ends, nxt, doc, rules.boundary, rules.pad_id)
            if rules.in_order:
                floor = advance_floor(floor, nxt, doc)
            counts.add_(rules.word_start[nxt].long())
            used[torch.arange(nxt.shape[0], device=nxt.device), nxt] |= rules.word_start[nxt]
            return nxt

        return decode_loop(model.compressor, step_scores, batch, model.max_summary_tokens, pick, model.vocab,
                           static=static, stop_early=not sync_free)


@torch.no_grad()
def reconstruct_greedy(model, summary_ids: torch.Tensor, *, max_tokens: int, no_repeat_ngram: int = 0,
                       min_tokens: torch.Tensor | None = None) -> torch.Tensor:
    """The reconstructor's greedy rebuild of the documents from hard summaries: (B, S) -> (B, max_tokens).
    no_repeat_ngram n >= 2: a token that would repeat an n-gram of tokens the row has already written is never
    picked (the loops "the number of the number of ..." of a weak reconstructor); 0: plain argmax.
    min_tokens (B,): no row ends (EOS) before its number of tokens, e.g. its document's length (what the padded
    summary of summae.eval.bottleneck is also told); None: each row ends where its argmax picks EOS."""
    from transformers.modeling_outputs import BaseModelOutput

    rec = model.reconstructor
    with eval_mode(rec):
        mask = (summary_ids != model.vocab.pad_id).long()  # (B, S)
        encoder_out = BaseModelOutput(last_hidden_state=rec.get_encoder()(
            input_ids=summary_ids, attention_mask=mask).last_hidden_state)  # (B, S, D)

        def step_scores(tokens, cache_args):
            out = rec(encoder_outputs=encoder_out, attention_mask=mask, decoder_input_ids=tokens, use_cache=True,
                      output_hidden_states=model.rec_copy_head is not None, **cache_args)
            if model.rec_copy_head is None:
                return out.logits[:, -1], out
            # the mixture of the vocabulary and copying the summary's tokens: its argmax is the greedy choice
            return model.rec_copy_head(logits=out.logits[:, -1:], dec_h=out.decoder_hidden_states[-1][:, -1:],
                                       enc_h=encoder_out.last_hidden_state, enc_mask=mask, src_ids=summary_ids,
                                       log=False)[:, 0], out

        pick = (lambda scores, step: scores.argmax(-1)) if no_repeat_ngram < 2 else NoRepeatPick(no_repeat_ngram)
        if min_tokens is not None:
            pick = MinLengthPick(pick, min_tokens.to(summary_ids.device), model.vocab.eos_id)
        return decode_loop(rec, step_scores, summary_ids.shape[0], max_tokens, pick, model.vocab)


class NoRepeatPick:
    """decode_loop's pick: the argmax among the tokens that do not complete an n-gram the row already holds."""

    def __init__(self, n: int):
        self.n, self.written = n, None  # written: (B, t) the tokens picked so far

    def __call__(self, scores: torch.Tensor, step: int) -> torch.Tensor:
        n, seen = self.n, self.written
        if seen is not None and seen.shape[1] >= n:
            prefix = seen[:, -(n - 1):]  # (B, n-1) the last n-1 tokens
            windows = seen.unfold(1, n, 1)  # (B, t-n+1, n) every n-gram written so far
            hit = (windows[:, :, :-1] == prefix[:, None, :]).all(-1)  # (B, t-n+1) n-grams that start like the prefix
            repeats = torch.zeros_like(scores).scatter_add_(1, windows[:, :, -1], hit.to(scores.dtype))  # (B, V)
            scores = scores.masked_fill(repeats > 0, float("-inf"))  # their last tokens would repeat one
        picked = scores.argmax(-1)
        self.written = picked[:, None] if seen is None else torch.cat([seen, picked[:, None]], 1)
        return picked


class MinLengthPick:
    """decode_loop's pick that never picks EOS in a row before that row's min_tokens (B,) tokens; then `pick`."""

    def __init__(self, pick, min_tokens: torch.Tensor, eos_id: int):
        self.pick, self.min_tokens, self.eos_id = pick, min_tokens, eos_id

    def __call__(self, scores: torch.Tensor, step: int) -> torch.Tensor:
        early = self.min_tokens > step  # (B,) rows that must write on
        scores = scores.clone()
        scores[:, self.eos_id] = scores[:, self.eos_id].masked_fill(early, float("-inf"))
        return self.pick(scores, step)


def decode_loop(seq2seq, step_scores, batch: int, max_steps: int, pick, vocab, *, static: bool = False,
                stop_early: bool = True) -> torch.Tensor:
    """Token-by-token decoding with a KV cache. step_scores(tokens (B, 1), cache_args) -> ((B, V), output), or
    with `static` step_scores(tokens, step) (the cache is the caller's); pick(scores, step) -> (B,) chooses
    each token. stop_early: stop once every row has ended (a host sync per step). Returns (B, max_steps):
    tokens, EOS, then pad."""
    device = seq2seq.device
    cache_kw = cache_kwarg(seq2seq)
    tokens = torch.full((batch, 1), vocab.start_id, dtype=torch.long, device=device)
    out_ids = torch.full((batch, max_steps), vocab.pad_id, dtype=torch.long, device=device)
    done = torch.zeros(batch, dtype=torch.bool, device=device)
    cache = None
    for step in range(max_steps):
        if static:
            scores, _ = step_scores(tokens, step)
        else:
            scores, out = step_scores(tokens, {cache_kw: cache})
            cache = returned_cache(out)
        nxt = pick(scores, step)  # (B,)
        nxt = torch.where(done, torch.full_like(nxt, vocab.pad_id), nxt)
        out_ids[:, step] = nxt
        done |= nxt == vocab.eos_id
        if stop_early and bool(done.all()):
            break
        tokens = nxt[:, None]
    return out_ids
