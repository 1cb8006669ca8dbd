"""Decoding rules: the length rules, no repeated words, whole words spelled as in the document, and the
choice of the next token under them. Pure functions on tensors; the greedy and beam decoders apply them."""

from __future__ import annotations

import math

import torch

from summae import fast
from summae.fast import cpu_ops

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
    """logits.masked_fill(forbid, -inf): forbidden tokens get no probability."""
    if fast.enabled() and cpu_ops.masked_fill_applies(logits):
        return cpu_ops.masked_fill(logits, forbid)
    return logits.masked_fill(forbid, NEG_INF)


def argmax(x: torch.Tensor) -> torch.Tensor:
    """x.argmax(-1), ties to the lowest index."""
    if fast.enabled():
        return cpu_ops.first_argmax(x)
    return x.argmax(-1)


def choose(logits: torch.Tensor, temperature: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Next token from masked logits (..., V): argmax when temperature is 0, else a Gumbel-max sample."""
    if temperature == 0:
        return argmax(logits)
    return argmax(gumbel_perturbed(logits, temperature, generator))


def gumbel_perturbed(logits: torch.Tensor, temperature: float,
                     generator: torch.Generator | None = None) -> torch.Tensor:
    """logits / temperature + Gumbel noise (fp32): its argmax is a sample of softmax(logits / temperature). The
    noise is -log(-log(u)) for u ~ U(0, 1), computed in place: the same values as the out-of-place form, in
    two thirds of its time on the CPU (fewer (B, V) allocations)."""
    uniform = torch.rand(logits.shape, device=logits.device, generator=generator).clamp_(1e-9, 1 - 1e-9)
    return logits.float().div(temperature).sub_(uniform.log_().neg_().log_())


def after_eos_mask(ids: torch.Tensor, eos_id: int) -> torch.Tensor:
    """True at positions after the first EOS (padding), (B, S) -> (B, S); the EOS itself stays."""
    is_eos = (ids == eos_id).long()
    return (torch.cumsum(is_eos, dim=1) - is_eos) > 0


def words_for_request(doc_words: torch.Tensor, *, words: int | None, ratio: float | None,
                      max_words: int) -> torch.Tensor:
    """Length targets at summarizing time: a fixed word count, or a ratio of each document. (B,) -> (B,)."""
    if ratio is not None:
        wanted = torch.round(doc_words.float() * ratio).long()
    else:
        wanted = torch.full_like(doc_words, int(words))
    return wanted.clamp(1, max_words)


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


def clean_summary(text: str, limit: int) -> str:
    """One line, single spaces, never more than `limit` words."""
    return " ".join(text.split()[:limit])


def drop_cut_word(summary: str, document: str) -> str:
    """The summary less its last word where that word is a piece of a document word and not a whole one ("Acr"
    of "Acronyms"): for a summary that model.max_summary_tokens cut while it was copying a word. A summary of one
    word keeps it: a piece says more than an empty line."""
    words = summary.split()
    if len(words) < 2:
        return summary
    held = document.split()
    last = words[-1]
    if last in held or not any(word.startswith(last) for word in held):
        return summary
    return " ".join(words[:-1])


def document_order(summary: str, document: str) -> str:
    """The summary's words in the order the document has them (summary.document_order). The teacher's extractions
    are in document order by construction; a student that picks its words well may still scramble them, which
    costs bigrams (R-2, R-L) and reads worse, and this costs no word (R-1).

    Each summary word is placed at one of its occurrences in the document: the exact spelling where the document
    has it, else the word less case and punctuation ("Linux," ~ "linux"). The k-th copy of a word takes the k-th
    occurrence (the last when there are fewer); then a word with several occurrences moves to a free one that
    stands next to another summary word's, when that gives it more such neighbours ("the" next to "time" in "at
    the time", not at the document's first "The"). A word the document does not hold stays right after the word
    written before it; ties keep the written order."""
    exact: dict[str, list[int]] = {}
    bare: dict[str, list[int]] = {}
    for i, word in enumerate(document.split()):
        exact.setdefault(word, []).append(i)
        bare.setdefault(bare_word(word), []).append(i)
    words = summary.split()
    options = [exact.get(word) or bare.get(bare_word(word)) or [] for word in words]
    uses: dict[int, int] = {}
    at: list[int | None] = []
    for found in options:  # the k-th copy: the k-th occurrence
        if not found:
            at.append(None)
            continue
        k = uses.get(id(found), 0)
        uses[id(found)] = k + 1
        at.append(found[min(k, len(found) - 1)])
    for j, found in enumerate(options):  # then next to the other summary words where the document allows
        if len(found) < 2:
            continue
        taken = {a for i, a in enumerate(at) if i != j and a is not None}
        free = [a for a in found if a not in taken]
        if free:
            best = max(free, key=lambda a: (_neighbours(a, taken), -a))
            if at[j] in taken or _neighbours(best, taken) > _neighbours(at[j], taken):
                at[j] = best
    keyed, last = [], -1.0
    for j, (word, a) in enumerate(zip(words, at)):
        key = last + 0.5 if a is None else a  # not in the document: behind its predecessor
        keyed.append((key, j, word))
        last = key
    return " ".join(word for _, _, word in sorted(keyed))


def _neighbours(position: int, taken: set[int]) -> int:
    """How many of the positions right before and right after `position` are in `taken` (0, 1 or 2)."""
    return (position - 1 in taken) + (position + 1 in taken)


def bare_word(word: str) -> str:
    """A word less case and the punctuation around it ("Linux," -> "linux")."""
    return word.strip(".,;:!?()[]{}\"'`").lower()


def order_start(doc_ids: torch.Tensor) -> torch.Tensor:
    """The in-order floor before a summary's first token: (B,) all -1, every document position is ahead."""
    return torch.full((doc_ids.shape[0],), -1, dtype=torch.long, device=doc_ids.device)


def advance_floor(floor: torch.Tensor, tokens: torch.Tensor, doc_ids: torch.Tensor) -> torch.Tensor:
    """The floor after writing `tokens` (B,): the first document position after the floor that holds the token
    (the leftmost in-order embedding of the summary so far, which leaves the most room for what follows), or
    the floor unchanged where no such position exists (a word from outside the document, EOS). (B,) -> (B,)."""
    length = doc_ids.shape[1]
    positions = torch.arange(length, device=doc_ids.device)
    hit = (doc_ids == tokens[:, None]) & (positions > floor[:, None])  # (B, L)
    first = torch.where(hit, positions, length).amin(1)  # (B,): length where there is none
    return torch.where(first < length, first, floor)


def span_followers(ends: torch.Tensor, doc_ids: torch.Tensor, word_start: torch.Tensor) -> torch.Tensor:
    """The word-start tokens that follow, in the document, the word the summary has just written: (B, V) bool.

    ends (B, L-1): where the word written so far ends in the document (advance_word); doc_ids (B, L). Copying
    one of them continues the document's own phrase (summary.span_bonus)."""
    following = doc_ids[:, 1:]  # (B, L-1): the token after position j
    return _token_set(following, ends & word_start[following], word_start.shape[0])


def with_span_bonus(scores: torch.Tensor, followers: torch.Tensor, bonus: float, *,
                    probabilities: bool) -> torch.Tensor:
    """scores (B, V) with `bonus` nats added where `followers` (B, V) holds: scores are log-probabilities or
    logits, or, with `probabilities`, the probabilities themselves (multiplied by exp(bonus)). fp32 out."""
    scores = scores.float()
    if probabilities:
        return torch.where(followers, scores * math.exp(bonus), scores)
    return scores + followers.float() * bonus


def _token_set(doc_ids: torch.Tensor, where: torch.Tensor, vocab: int) -> torch.Tensor:
    """(B, L) tokens, (B, L) bool -> (B, V) bool: which tokens occur where `where` holds. Scattered into a spare
    column V where it fails, so every write into 0..V-1 is True."""
    out = torch.zeros(doc_ids.shape[0], vocab + 1, dtype=torch.bool, device=doc_ids.device)
    return out.scatter_(1, torch.where(where, doc_ids, vocab), True)[:, :vocab]


def document_words(doc_ids: torch.Tensor, word_start: torch.Tensor, pad_id: int) -> torch.Tensor:
    """The word-start tokens each document holds: (B, L) -> (B, V) bool (order_mask's `held`, once per batch)."""
    return _token_set(doc_ids, doc_ids != pad_id, word_start.shape[0]) & word_start


def order_mask(floor: torch.Tensor, doc_ids: torch.Tensor, word_start: torch.Tensor, pad_id: int,
               held: torch.Tensor | None = None) -> torch.Tensor:
    """Word-start tokens that would break the document's order: (B,) floor, (B, L) document -> (B, V) bool.

    A word-start token that occurs in the document, but only at or before the floor, is forbidden; tokens
    the document does not hold stay allowed (words of the summary's own). held: document_words(doc_ids, ...),
    when the caller keeps it across decoding steps."""
    held = document_words(doc_ids, word_start, pad_id) if held is None else held  # (B, V)
    positions = torch.arange(doc_ids.shape[1], device=doc_ids.device)
    ahead = (doc_ids != pad_id) & (positions > floor[:, None])  # (B, L)
    return held & ~_token_set(doc_ids, ahead, word_start.shape[0])  # (B, V)


class DecodingRules(torch.nn.Module):
    """The decoding rules of one vocabulary, as masks of the tokens that may not come next.

    step(): the length rules at one decoding step (plus no repeated word and whole words, applied by the
    decoders); sequence(): every rule at every position of a written summary at once, as the training forward
    needs them to score that summary under the rules it was written with. Tables only, no parameters.
    """

    def __init__(self, vocab, *, max_summary_tokens: int, no_repeat_words: bool = False, whole_words: bool = False,
                 in_order: bool = False, span_bonus: float = 0.0):
        super().__init__()
        self.max_summary_tokens = max_summary_tokens
        # greedy decoding: log-odds added to the word that follows the last one in the document
        self.span_bonus = span_bonus
        self.no_repeat_words = no_repeat_words  # ban word-start pieces already in the summary
        self.whole_words = whole_words  # copied words are spelled as in the document (document_word_mask)
        self.in_order = in_order  # copied words keep the document's order (order_mask)
        self.eos_id, self.pad_id = vocab.eos_id, vocab.pad_id
        boundary = vocab.word_start.clone()
        boundary[vocab.eos_id] = True
        self.register_buffer("boundary", boundary, persistent=False)  # (V,) word-start pieces and EOS
        self.register_buffer("word_start", vocab.word_start.clone(), persistent=False)  # (V,)
        self.register_buffer("banned", vocab.banned.clone(), persistent=False)  # (V,)
        # (5, V) forbidden tokens per decoding state, built once instead of at every decoding step
        self.register_buffer("table", rule_table(self.word_start, self.banned, vocab.eos_id), persistent=False)

    def step(self, counts: torch.Tensor, target: torch.Tensor, step: torch.Tensor | int) -> torch.Tensor:
        """The length rules: (B,) counts at an int step -> (B, V); (B, S) counts at (S,) steps -> (B, S, V)."""
        return length_rule_mask(counts, target, step, max_steps=self.max_summary_tokens, word_start=self.word_start,
                                banned=self.banned, eos_id=self.eos_id, table=self.table)

    def spelled(self, forbid: torch.Tensor, ends: torch.Tensor, comp_ids: torch.Tensor) -> torch.Tensor:
        """forbid (..., V) plus the document's spelling of the word so far, which ends at the document positions
        `ends` (B, L-1) or (B, S, L-1) (advance_word, ends_before); where the two leave no token (the length
        rules want a word to end that the document continues), the rules decide."""
        spelled = forbid | document_word_mask(ends, comp_ids[:, 1:], self.boundary, self.pad_id)
        if fast.enabled() and spelled.device.type == "cpu":
            return cpu_ops.where_full(spelled, forbid)
        return torch.where(spelled.all(-1, keepdim=True), forbid, spelled)

    def sequence(self, summary_ids: torch.Tensor, target: torch.Tensor, comp_ids: torch.Tensor) -> torch.Tensor:
        """The forbidden tokens at every position of written summaries (B, S) -> (B, S, V): the rules they were
        written under."""
        counts = word_counts(summary_ids, self.word_start)  # (B, S)
        steps = torch.arange(summary_ids.shape[1], device=summary_ids.device)
        forbid = self.step(counts, target, steps)  # (B, S, V)
        if self.no_repeat_words:
            forbid = forbid | repeat_mask(summary_ids, self.word_start)
        if self.in_order:
            doc, floor, masks = comp_ids[:, 1:], order_start(comp_ids), []
            held = document_words(doc, self.word_start, self.pad_id)  # (B, V)
            for s in range(summary_ids.shape[1]):  # S is a summary's length: a short loop
                masks.append(order_mask(floor, doc, self.word_start, self.pad_id, held))
                floor = advance_floor(floor, summary_ids[:, s], doc)
            forbid = forbid | torch.stack(masks, dim=1)  # (B, S, V)
        if self.whole_words:
            ends = ends_before(summary_ids, comp_ids[:, 1:], self.boundary, self.pad_id)  # (B, S, L-1)
            forbid = self.spelled(forbid, ends, comp_ids)
        return forbid
