"""The text bottleneck as pure functions: length rules, sampling, straight-through one-hots, soft embeddings.

The middle of the auto-encoder is a real token sequence. Its forward value is always a hard one-hot
(the words a person reads); gradients reach the compressor through the softmax of its logits
(straight-through estimator), and the reconstructor and discriminator read `one_hot @ E`.
"""

from __future__ import annotations

import torch

NEG_INF = float("-inf")


def word_counts(ids: torch.Tensor, word_start: torch.Tensor) -> torch.Tensor:
    """Words begun so far before each position. ids (B, S) -> (B, S): counts[b, t] = words in ids[b, :t]."""
    starts = word_start[ids].long()  # (B, S)
    return torch.cumsum(starts, dim=1) - starts


def length_rule_mask(counts: torch.Tensor, target: torch.Tensor, step: torch.Tensor | int, *, max_steps: int,
                     word_start: torch.Tensor, banned: torch.Tensor, eos_id: int,
                     table: torch.Tensor | None = None) -> torch.Tensor:
    """Tokens that may not come next, as a bool mask (..., V).

    counts: words already written, (B,) or (B, S); target: words wanted, (B,); step: position of the token
    being chosen (int, or (S,) for a whole sequence). Rules: never a banned token; the first token starts a
    word; no EOS before `target` words; no new word once `target` words are written (so a summary never
    exceeds its target); only EOS at the last position. table: rule_table(word_start, banned, eos_id), when
    the caller keeps it (a decoding loop asks every step).
    """
    if counts.dim() == 2:
        target = target[:, None]  # (B, 1) against (B, S)
    # every position is in one of five states, so the (..., V) mask is one gather from a (5, V) table
    # instead of five full-size boolean ops (this runs once per decoding step)
    state = (counts < target).long() + 2 * (counts == 0).long()  # (...,): below target + 2 * first token
    if isinstance(step, int):  # a decoding step: no host-to-device copy (a CUDA graph cannot capture one)
        state = torch.full_like(state, 4) if step >= max_steps - 1 else state
    else:
        state = torch.where(step >= max_steps - 1, torch.full_like(state, 4), state)  # (S,) broadcast over B
    table = rule_table(word_start, banned, eos_id) if table is None else table
    return table[state]  # (..., V)


def rule_table(word_start: torch.Tensor, banned: torch.Tensor, eos_id: int) -> torch.Tensor:
    """The forbidden tokens of each decoding state, (5, V) bool: rows 0-3 = below-target + 2 * first-token,
    row 4 = the last position (only EOS allowed)."""
    is_eos = torch.zeros_like(word_start)
    is_eos[eos_id] = True
    rows = []
    for state in range(4):
        below, first = bool(state & 1), bool(state & 2)
        rows.append(banned | (is_eos if below else word_start) | (~word_start if first else torch.zeros_like(banned)))
    rows.append(~is_eos)
    return torch.stack(rows)


def repeat_mask(ids: torch.Tensor, word_start: torch.Tensor) -> torch.Tensor:
    """Word-start tokens already written before each position: (B, S) -> (B, S, V) bool.

    Banning them stops the "shell shell" and "the the" repetitions of small models (Wang & Lee removed
    repeated tokens after decoding; banning them keeps the summary at its word target instead).
    """
    batch, steps = ids.shape
    positions = torch.arange(steps, device=ids.device)
    # first position of each word-start token in each row, `steps` where it never occurs: (B, V)
    where = torch.where(word_start[ids], positions, steps).expand(batch, steps)  # (B, S)
    first = torch.full((batch, word_start.shape[0]), steps, dtype=torch.long, device=ids.device)
    first.scatter_reduce_(1, ids, where, reduce="amin")
    return first[:, None, :] < positions[None, :, None]  # (B, S, V): written at an earlier position


def apply_mask(logits: torch.Tensor, forbid: torch.Tensor) -> torch.Tensor:
    """logits.masked_fill(forbid, -inf).

    Decoding on the CPU (fp32, no gradient) takes another way to the same values: torch's CPU masked_fill (and
    where) run a scalar loop, 4.2 ms at (256, 8064) on 2 cores, against 0.7 ms for a bool-to-float conversion
    through uint8 and two vectorised subtractions: x - 0 is x, and x - 2 * max_float is -inf
    (benchmarks/cpu_ops.py).
    """
    if logits.device.type != "cpu" or logits.dtype != torch.float32 or (torch.is_grad_enabled() and logits.requires_grad):
        return logits.masked_fill(forbid, NEG_INF)
    huge = torch.finfo(torch.float32).max
    ones = forbid.view(torch.uint8).to(torch.float32).expand(logits.shape)  # (bool -> float directly is 10x slower)
    return logits.sub(ones, alpha=huge).sub_(ones, alpha=huge)


ARGMAX_CHUNK = 64  # summae's vocabularies are padded to a multiple of 64 (factory.padded_vocab_size)


def first_argmax(x: torch.Tensor) -> torch.Tensor:
    """x.argmax(-1), ties to the lowest index, for x (..., V).

    On the CPU torch's argmax over the last dimension is a scalar loop (1.9 ms at (256, 8064) on 2 cores, amax
    0.07 ms). Here, where V is a multiple of 64: the max of each 64-wide chunk, the first chunk that holds the
    row's max, and the argmax within that chunk alone (0.4 ms); elsewhere torch's argmax.
    """
    vocab = x.shape[-1]
    if x.device.type != "cpu" or vocab % ARGMAX_CHUNK or x.dim() < 2:
        return x.argmax(-1)
    chunks = x.reshape(-1, vocab // ARGMAX_CHUNK, ARGMAX_CHUNK)  # (N, V / 64, 64)
    chunk = chunks.amax(-1).argmax(-1)  # (N,): the first chunk that holds the row's max
    inside = chunks[torch.arange(chunks.shape[0], device=x.device), chunk].argmax(-1)
    return (chunk * ARGMAX_CHUNK + inside).view(x.shape[:-1])


def outer_and(rows: torch.Tensor, columns: torch.Tensor) -> torch.Tensor:
    """rows[:, None] & columns for bool rows (B,) and columns (V,), as a (B, V) bool mask. Computed on uint8:
    torch's CPU kernels run bool & with a row broadcast along the last dimension as a scalar loop (35x slower)."""
    return (rows.view(torch.uint8)[:, None] & columns.view(torch.uint8)).view(torch.bool)


def choose(logits: torch.Tensor, temperature: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Next token from masked logits (..., V): argmax when temperature is 0, else a Gumbel-max sample."""
    if temperature == 0:
        return first_argmax(logits)
    return first_argmax(gumbel_perturbed(logits, temperature, generator))


def gumbel_perturbed(logits: torch.Tensor, temperature: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """logits / temperature + Gumbel noise (fp32): its argmax is a sample of softmax(logits / temperature). The
    noise is -log(-log(u)) for u ~ U(0, 1), computed in place: the same values as the out-of-place form, in
    two thirds of its time on the CPU (fewer (B, V) allocations)."""
    uniform = torch.rand(logits.shape, device=logits.device, generator=generator).clamp_(1e-9, 1 - 1e-9)
    return logits.float().div(temperature).sub_(uniform.log_().neg_().log_())


def straight_through(logits: torch.Tensor, hard_ids: torch.Tensor, tau: float, forbid: torch.Tensor | None = None,
                     keep: torch.Tensor | None = None) -> torch.Tensor:
    """One-hot of hard_ids (B, S) in the forward pass, softmax(logits / tau) gradients in the backward.

    forbid (B, S, V) bool: tokens masked to -inf before the softmax (apply_mask), so they get no probability and
    no gradient. keep (B, S) bool: positions that count; the others are zero, forward and backward. Equal to
    straight_through(apply_mask(logits, forbid), ...) * keep[..., None] built from autograd ops, with fewer
    passes over (B, S, V): the mask without masked_fill's scalar loop, the softmax gradient computed directly.
    """
    return _StraightThrough.apply(logits, hard_ids, tau, forbid, keep)


class _StraightThrough(torch.autograd.Function):
    @staticmethod
    def forward(ctx, logits, hard_ids, tau, forbid, keep):
        scores = logits.detach().float()
        scores = apply_mask(scores, forbid) if forbid is not None else scores.clone()  # no gradient here: fast path
        soft = torch.softmax(scores.div_(tau), dim=-1)  # (B, S, V)
        value = torch.ones_like(hard_ids, dtype=soft.dtype) if keep is None else keep.to(soft.dtype)
        hard = torch.zeros_like(soft).scatter_(-1, hard_ids[..., None], value[..., None])  # exactly one-hot
        ctx.save_for_backward(soft, value)
        ctx.tau, ctx.dtype = tau, logits.dtype
        return hard

    @staticmethod
    def backward(ctx, grad):
        soft, value = ctx.saved_tensors
        grad = grad.float() * value[..., None]
        # the softmax's gradient: soft * (g - <g, soft>), zero where soft is (the masked tokens), over tau
        grad_logits = soft * (grad - (grad * soft).sum(-1, keepdim=True))
        return grad_logits.div_(ctx.tau).to(ctx.dtype), None, None, None, None


def soft_embed(one_hot: torch.Tensor, weight: torch.Tensor, ids: torch.Tensor | None = None) -> torch.Tensor:
    """Expected embeddings: (B, S, V) @ (V, D) -> (B, S, D); equal to a lookup for a hard one-hot.

    ids (B, S): where the caller knows `one_hot` is hard (a straight-through one-hot, a masked F.one_hot), the
    token each row is hot at, -1 on all-zero rows (hard_ids). A hard one-hot takes an exact shortcut on any
    device: the forward pass is a row lookup and the weight gradient a sparse scatter (embedding backward),
    instead of two dense (B*S, V) x (V, D) products; the gradient of the one-hot itself (what reaches the
    compressor) is the same dense product either way. Without ids, a CPU tensor is checked for hardness (a
    check on a GPU would cost a host sync there) and anything else is multiplied densely.
    """
    if ids is None and one_hot.device.type == "cpu" and one_hot.is_floating_point() and _is_hard(one_hot):
        ids = hard_ids(one_hot)
    if ids is not None:
        return _HardEmbed.apply(one_hot, weight, ids)
    return one_hot.to(weight.dtype) @ weight


def hard_ids(one_hot: torch.Tensor) -> torch.Tensor:
    """(B, S, V) hard one-hot -> (B, S): the hot token of each row, -1 on all-zero rows."""
    return torch.where(one_hot.amax(-1) > 0, one_hot.argmax(-1), -1)


def _is_hard(x: torch.Tensor) -> bool:
    """Every row (last dim) all zero, or zero but for a single 1."""
    ones = x == 1
    return bool(((x == 0) | ones).all()) and bool((ones.sum(-1) <= 1).all())


class _HardEmbed(torch.autograd.Function):
    """one_hot @ weight for an exact 0/1 one_hot whose hot tokens are `ids` (-1: an all-zero row): the same values
    and gradients. The backward product runs under the autocast state of the forward, as the dense product's did."""

    @staticmethod
    def forward(ctx, one_hot, weight, ids):
        row_on = (ids >= 0)[..., None].to(weight.dtype)  # (B, S, 1): 0 for all-zero rows
        ids = ids.clamp(min=0)
        ctx.save_for_backward(ids, row_on, weight)
        device = one_hot.device.type
        ctx.autocast = (device, torch.is_autocast_enabled(device), torch.get_autocast_dtype(device))
        return weight[ids] * row_on  # (B, S, D)

    @staticmethod
    def backward(ctx, grad):
        ids, row_on, weight = ctx.saved_tensors
        grad_one_hot = grad_weight = None
        if ctx.needs_input_grad[0]:
            device, enabled, dtype = ctx.autocast
            with torch.autocast(device, dtype=dtype, enabled=enabled):
                grad_one_hot = grad.to(weight.dtype) @ weight.t()  # (B, S, D) @ (D, V) -> (B, S, V)
        if ctx.needs_input_grad[1]:
            rows = (grad * row_on).reshape(-1, weight.shape[1]).to(weight.dtype)  # (B*S, D)
            # nn.Embedding's own weight gradient (sorted, deterministic on CUDA): row i of `rows` onto weight[ids[i]]
            grad_weight = torch.ops.aten.embedding_dense_backward(rows, ids.reshape(-1), weight.shape[0], -1, False)
        return grad_one_hot, grad_weight, None


def after_eos_mask(ids: torch.Tensor, eos_id: int) -> torch.Tensor:
    """True at positions after the first EOS (padding), (B, S) -> (B, S); the EOS itself stays."""
    is_eos = (ids == eos_id).long()
    return (torch.cumsum(is_eos, dim=1) - is_eos) > 0


def target_words(doc_words: torch.Tensor, *, ratio_min: float, ratio_max: float, min_words: int, max_words: int,
                 generator: torch.Generator | None = None) -> torch.Tensor:
    """Training length targets: ratio * document words, ratio ~ U[ratio_min, ratio_max], clamped. (B,) -> (B,)."""
    ratio = torch.rand(doc_words.shape, generator=generator) * (ratio_max - ratio_min) + ratio_min
    words = torch.round(doc_words.float() * ratio).long()
    words = words.clamp(min_words, max_words)
    return torch.minimum(words, doc_words.clamp(min=1))


def words_for_request(doc_words: torch.Tensor, *, words: int | None, ratio: float | None, max_words: int) -> torch.Tensor:
    """Length targets at summarizing time: a fixed word count, or a ratio of each document. (B,) -> (B,)."""
    if ratio is not None:
        wanted = torch.round(doc_words.float() * ratio).long()
    else:
        wanted = torch.full_like(doc_words, int(words))
    return wanted.clamp(1, max_words)


def lead_targets(doc_ids: torch.Tensor, target: torch.Tensor, *, word_start: torch.Tensor, max_tokens: int,
                 eos_id: int, pad_id: int) -> torch.Tensor:
    """Pseudo-summaries: the first `target` words of each document, then EOS, padded. (B, L) -> (B, max_tokens)."""
    counts = word_counts(doc_ids, word_start) + word_start[doc_ids].long()  # (B, L): words up to and incl. here
    keep = (counts <= target[:, None]) & (doc_ids != pad_id) & (doc_ids != eos_id)
    keep[:, max_tokens - 1:] = False  # room for EOS
    lengths = keep.sum(1)  # (B,) tokens kept; keep is a prefix because counts only grow
    out = torch.full((doc_ids.shape[0], max_tokens), pad_id, dtype=doc_ids.dtype, device=doc_ids.device)
    width = min(max_tokens, doc_ids.shape[1])
    out[:, :width] = torch.where(keep[:, :width], doc_ids[:, :width], torch.full_like(doc_ids[:, :width], pad_id))
    out.scatter_(1, lengths[:, None], eos_id)
    return out


def piece_positions(tokens: torch.Tensor, doc_ids: torch.Tensor, pad_id: int) -> torch.Tensor:
    """Document positions that hold each token and have a token after them: (B,) -> (B, L-1), or (B, S) ->
    (B, S, L-1) bool; pad is never a document piece."""
    body = doc_ids[:, :-1]  # (B, L-1): position j is followed by doc_ids[:, j + 1]
    if tokens.dim() == 1:
        return (body == tokens[:, None]) & (body != pad_id)
    return (body[:, None, :] == tokens[:, :, None]) & (body != pad_id)[:, None, :]


def empty_ends(doc_ids: torch.Tensor) -> torch.Tensor:
    """The `ends` before a summary's first token, (B, L-1) all False: its start is in no document."""
    return torch.zeros(doc_ids.shape[0], max(doc_ids.shape[1] - 1, 0), dtype=torch.bool, device=doc_ids.device)


def advance_word(ends: torch.Tensor, tokens: torch.Tensor, doc_ids: torch.Tensor, boundary: torch.Tensor,
                 pad_id: int) -> torch.Tensor:
    """Where the word being written ends in the document, after `tokens` (B,) are added: (B, L-1) bool.

    ends (B, L-1): the same before them (empty_ends at the start of a summary). A boundary token (a word-start
    piece, EOS) begins a new word, found wherever the document holds it. A continuation piece extends the
    word where the document continues it with that piece (a match of the whole word so far, not of its last
    piece alone); where the word so far is not in the document (a novel word, or no match continues), the
    piece starts a match of its own, as a word start would. No host sync: a CUDA graph can capture it.
    """
    at = piece_positions(tokens, doc_ids, pad_id)  # (B, L-1)
    extended = torch.zeros_like(at)
    extended[:, 1:] = ends[:, :-1] & at[:, 1:]  # the word so far ends at j - 1, the document has the piece at j
    restart = boundary[tokens] | ~extended.any(-1)  # (B,)
    return torch.where(restart[:, None], at, extended)


def word_ends(ids: torch.Tensor, doc_ids: torch.Tensor, boundary: torch.Tensor, pad_id: int) -> torch.Tensor:
    """advance_word over a whole sequence: (B, S) ids -> (B, S, L-1), where the word ends after ids[:, :s+1]."""
    ends = empty_ends(doc_ids)
    out = []
    for s in range(ids.shape[1]):
        ends = advance_word(ends, ids[:, s], doc_ids, boundary, pad_id)
        out.append(ends)
    return torch.stack(out, dim=1) if out else ends[:, None][:, :0]  # (B, 0, L-1) for an empty sequence


def ends_before(ids: torch.Tensor, doc_ids: torch.Tensor, boundary: torch.Tensor, pad_id: int) -> torch.Tensor:
    """The `ends` each position of ids (B, S) was chosen after (B, S, L-1): word_ends shifted right by one,
    nothing at the first position (the summary's start is in no document)."""
    ends = word_ends(ids, doc_ids, boundary, pad_id)
    return torch.cat([torch.zeros_like(ends[:, :1]), ends[:, :-1]], dim=1)


def document_word_mask(ends: torch.Tensor, doc_ids: torch.Tensor, boundary: torch.Tensor, pad_id: int) -> torch.Tensor:
    """Tokens that would break a document word, as a bool mask (..., V): copied words are spelled as in the document.

    ends (B, L-1) or (B, S, L-1): the document positions where the word written so far ends (advance_word;
    piece_positions(prev, ...) for a match of the last piece alone); doc_ids (B, L): the document's tokens, its
    EOS included, pad elsewhere; boundary (V,) bool: tokens that begin something new (word-start pieces and EOS).
    Where the word occurs in the document, the next token must continue it there: a continuation piece that
    follows one of its occurrences, or, if an occurrence ends a document word, any boundary token. Where it does
    not occur (a novel piece, or the start of the summary), nothing is forbidden. So a word the model begins by
    copying is finished as the document spells it, and never spliced with another word's pieces ("concorcorde",
    "hklmalmamama" from an under-trained copy head; "ground-tube" from "ground-breaking" and "test-tube").
    """
    squeeze = ends.dim() == 2
    follows = ends[:, None] if squeeze else ends  # (B, S, L-1): document position j ends the word
    batch, steps, _ = follows.shape
    vocab = boundary.shape[0]
    following = doc_ids[:, None, 1:]  # (B, 1, L-1): the token after position j
    in_doc = follows.any(-1, keepdim=True)  # (B, S, 1)
    ends_word = (follows & boundary[following]).any(-1, keepdim=True)  # (B, S, 1): an occurrence ends a word
    # start from "forbid all but the boundaries where the word may end" (on uint8: torch's CPU kernels run bool
    # ops with a row broadcast along the last dimension as scalar loops), then allow the followers; the
    # positions that do not end the word point at a spare column V, dropped at the end
    u8 = torch.uint8
    start = in_doc.view(u8) & ~(ends_word.view(u8) & boundary.view(u8))  # (B, S, V)
    out = torch.cat([start.expand(batch, steps, vocab), start.new_zeros(batch, steps, 1)], dim=-1)  # (B, S, V + 1)
    out.scatter_(2, torch.where(follows, following, vocab), 0)
    out = out[..., :vocab].contiguous().view(torch.bool)  # contiguous: later (B, S, V) ops read it fast
    return out[:, 0] if squeeze else out


def choose_spelled(scores: torch.Tensor, forbid: torch.Tensor, ends: torch.Tensor, doc_ids: torch.Tensor,
                   boundary: torch.Tensor, pad_id: int, temperature: float = 0.0,
                   generator: torch.Generator | None = None, sync_free: bool = False) -> torch.Tensor:
    """The token `choose` picks under `forbid` plus the document's spelling of the word so far, (B, V) -> (B,).

    ends (B, L-1): where the word written so far ends in the document (advance_word). Equal to
    choose(apply_mask(scores, spelled), ...) where spelled = forbid | document_word_mask(ends, ...), or forbid
    alone in rows where that leaves no token, ties included (the lowest token id wins, as in argmax). It never
    builds the (B, V) spelling mask: the allowed set is the document's followers of those positions (at most
    L tokens, scored by a gather), plus all boundary tokens where one of them ends a word. So one pass over V
    (the rules' scores, the non-boundary tokens of those rows set to -inf) and one argmax give both the rules'
    choice of the other rows and the best boundary token of these.
    """
    if temperature != 0:  # a Gumbel-max sample is the argmax of perturbed scores: the same draws as `choose`
        scores = gumbel_perturbed(scores, temperature, generator)
    if doc_ids.shape[1] < 2:  # documents of one token (EOS): no piece follows another, the rules alone decide
        return first_argmax(apply_mask(scores, forbid))

    following = doc_ids[:, 1:]  # (B, L-1): the token after position j, where `ends` says the word may end
    ends_word = (ends & boundary[following]).any(-1)  # (B,)
    follower_ok = ends & ~forbid.gather(1, following)  # followers the rules allow
    follower_val = torch.where(follower_ok, scores.gather(1, following), NEG_INF)  # (unmasked where allowed)
    best_val = follower_val.max(-1).values  # (B,); -inf where no follower is allowed
    vocab = scores.shape[-1]
    # lowest token id among the best followers (argmax's tie rule); vocab where none is allowed
    best_id = torch.where(follower_ok & (follower_val == best_val[:, None]), following, vocab).min(-1).values

    # one masked pass over V: the rules, and in rows where the word may end every non-boundary token too (only
    # boundary tokens compete with the followers there)
    masked = apply_mask(scores, forbid | outer_and(ends_word, ~boundary))
    top = first_argmax(masked)  # (B,): the best boundary token there, the rules' choice elsewhere
    top_val = masked.gather(1, top[:, None]).squeeze(1)
    bound_id = torch.where(ends_word & boundary[top] & ~forbid.gather(1, top[:, None]).squeeze(1), top, vocab)

    # the better of the two candidates, the lower id on a tie; the rules alone where neither exists
    take_bound = (bound_id < vocab) & ((best_id == vocab) | (top_val > best_val)
                                       | ((top_val == best_val) & (bound_id < best_id)))
    spelled = torch.where(take_bound, bound_id, best_id)
    # the rules' choice: `top` outside the word-ending rows; recomputed in the rare rows that need it, where the
    # word may end but the rules allow no boundary token and no follower
    lost = ends_word & (spelled == vocab)
    if sync_free:  # no host sync (CUDA graphs): the rules' choice of every row, one more pass over V
        free = torch.where(lost, first_argmax(apply_mask(scores, forbid)), top)
    else:
        free = top.clone()
        if bool(lost.any()):
            free[lost] = first_argmax(apply_mask(scores[lost], forbid[lost]))
    return torch.where(spelled < vocab, spelled, free)
