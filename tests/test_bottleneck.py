"""summae.model.bottleneck: length rules, sampling, straight-through one-hots and lead targets on hand-made tensors.

The hand-made vocabulary (V = 8):
    0 <pad>  1 </s>  2 <unk>  3 "▁a"  4 "▁b"  5 "c"  6 "d"  7 <len_1>
"▁a" and "▁b" start words, "c" and "d" continue them; pad, unk and the length token are banned.
"""

import math

import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from summae.decode.rules import (advance_word, after_eos_mask, apply_mask, choose, document_word_mask, empty_ends,
                                 ends_before, length_rule_mask, piece_positions, repeat_mask, word_counts, word_ends,
                                 words_for_request)
from summae.fast.cpu_ops import first_argmax, outer_and
from summae.fast.spelling import choose_spelled
from summae.model.bottleneck import hard_ids, soft_embed, straight_through
from summae.train.pseudo import lead_targets, target_words

PAD, EOS, UNK, A, B, C, D, LEN1 = range(8)
WORD_START = torch.tensor([False, False, False, True, True, False, False, False])
BANNED = torch.tensor([True, False, True, False, False, False, False, True])


def allowed(counts, target, step, *, max_steps=5):
    """Token ids the rules allow, one set per row (1-D counts) or per (row, position) (2-D counts)."""
    forbid = length_rule_mask(torch.as_tensor(counts), torch.as_tensor(target), step, max_steps=max_steps,
                              word_start=WORD_START, banned=BANNED, eos_id=EOS)
    if forbid.dim() == 2:
        return [set((~row).nonzero().flatten().tolist()) for row in forbid]
    return [[set((~cell).nonzero().flatten().tolist()) for cell in row] for row in forbid]


# ---------------------------------------------------------------- length_rule_mask


def test_first_token_must_start_a_word_and_eos_is_forbidden_below_target():
    assert allowed([0], [2], 0) == [{A, B}]


def test_below_target_words_may_start_or_continue_but_not_end():
    assert allowed([1], [2], 1) == [{A, B, C, D}]


def test_at_target_no_new_word_may_start_but_eos_and_word_pieces_may_follow():
    assert allowed([2], [2], 2) == [{EOS, C, D}]


def test_only_eos_at_the_last_step_whatever_the_count():
    for counts, target in [(0, 3), (1, 3), (3, 3)]:
        assert allowed([counts], [target], 4, max_steps=5) == [{EOS}]
    assert allowed([1], [3], 7, max_steps=5) == [{EOS}]  # past the end: still only EOS


def test_rows_follow_their_own_counts_and_targets():
    assert allowed([0, 1, 2], [1, 3, 2], 1) == [{A, B}, {A, B, C, D}, {EOS, C, D}]


def test_banned_tokens_are_never_allowed():
    for counts in range(4):
        for target in range(1, 4):
            for step in range(5):
                (row,) = allowed([counts], [target], step)
                assert not row & {PAD, UNK, LEN1}


def test_sequence_form_matches_step_by_step_calls():
    # (B, S) counts with a (S,) step vector: the form the training forward pass uses
    counts = torch.tensor([[0, 1, 1, 2, 2], [0, 1, 2, 3, 3]])
    target = torch.tensor([2, 3])
    whole = allowed(counts, target, torch.arange(5), max_steps=5)
    for b in range(2):
        for t in range(5):
            assert whole[b][t] == allowed(counts[b, t:t + 1], target[b:b + 1], t, max_steps=5)[0], (b, t)


@st.composite
def vocabularies(draw):
    """A random vocabulary that satisfies the tokenizer's guarantees: EOS exists and is not banned, and at
    least one word-start piece is not banned."""
    v = draw(st.integers(3, 24))
    eos = draw(st.integers(0, v - 1))
    word_start = torch.tensor(draw(st.lists(st.booleans(), min_size=v, max_size=v)))
    banned = torch.tensor(draw(st.lists(st.booleans(), min_size=v, max_size=v)))
    free_start = draw(st.integers(0, v - 1).filter(lambda i: i != eos))
    word_start[free_start], banned[free_start] = True, False
    word_start[eos], banned[eos] = False, False
    return eos, word_start, banned


@settings(max_examples=200, deadline=None)
@given(vocab=vocabularies(), max_steps=st.integers(1, 12),
       rows=st.lists(st.tuples(st.integers(0, 15), st.integers(1, 15)), min_size=1, max_size=6),
       step=st.integers(0, 14))
def test_never_a_fully_masked_row(vocab, max_steps, rows, step):
    eos, word_start, banned = vocab
    counts = torch.tensor([c for c, _ in rows])
    target = torch.tensor([t for _, t in rows])
    forbid = length_rule_mask(counts, target, step, max_steps=max_steps, word_start=word_start, banned=banned,
                              eos_id=eos)
    assert forbid.shape == (len(rows), word_start.shape[0])
    assert (~forbid).any(dim=1).all(), "some row allows no token at all"
    assert forbid[:, banned].all(), "a banned token is allowed"
    if step >= max_steps - 1:
        assert (~forbid).sum(1).eq(1).all() and not forbid[:, eos].any()
    for i, (c, t) in enumerate(rows):
        if step < max_steps - 1 and c < t:
            assert forbid[i, eos], "EOS allowed below the word target"
        if step < max_steps - 1 and c >= t:
            assert forbid[i, word_start].all(), "a new word may start at the word target"
        if step < max_steps - 1 and c == 0:
            assert forbid[i, ~word_start].all(), "a summary may start inside a word"


@settings(max_examples=100, deadline=None)
@given(vocab=vocabularies(), max_steps=st.integers(1, 10), target=st.integers(1, 10),
       starts=st.lists(st.booleans(), min_size=1, max_size=10))
def test_sequence_form_never_masks_a_whole_position(vocab, max_steps, target, starts):
    eos, word_start, banned = vocab
    counts = torch.cumsum(torch.tensor([starts]).long(), 1) - torch.tensor([starts]).long()  # (1, S)
    steps = torch.arange(counts.shape[1])
    forbid = length_rule_mask(counts, torch.tensor([target]), steps, max_steps=max_steps, word_start=word_start,
                              banned=banned, eos_id=eos)
    assert forbid.shape == (1, counts.shape[1], word_start.shape[0])
    assert (~forbid).any(-1).all()


def test_repeat_mask_bans_word_start_pieces_already_written():
    ids = torch.tensor([[A, C, B, A, EOS], [B, D, D, EOS, PAD]])
    mask = repeat_mask(ids, WORD_START)  # (B, S, V)
    assert mask.shape == (2, 5, 8)
    banned = [[set(cell.nonzero().flatten().tolist()) for cell in row] for row in mask]
    assert banned[0] == [set(), {A}, {A}, {A, B}, {A, B}]
    assert banned[1] == [set(), {B}, {B}, {B}, {B}]  # word pieces ("d") may repeat


# ---------------------------------------------------------------- sampling


def test_choose_is_argmax_at_temperature_zero():
    logits = torch.tensor([[0.1, 2.0, -1.0], [3.0, 0.0, 2.9]])
    assert choose(logits, 0.0).tolist() == [1, 0]


def test_choose_never_samples_a_masked_token():
    gen = torch.Generator().manual_seed(0)
    forbid = torch.tensor([[True, False, True, False, True]] * 64)
    logits = apply_mask(torch.randn(64, 5, generator=gen) * 5, forbid)
    for temperature in (0.0, 0.5, 1.0, 10.0):
        picks = choose(logits, temperature, gen)
        assert set(picks.tolist()) <= {1, 3}


def test_choose_samples_with_a_generator_reproducibly():
    logits = torch.zeros(200, 6)
    first = choose(logits, 1.0, torch.Generator().manual_seed(3))
    again = choose(logits, 1.0, torch.Generator().manual_seed(3))
    assert torch.equal(first, again)
    assert len(set(first.tolist())) > 1  # uniform logits: a sample, not an argmax


# ---------------------------------------------------------------- straight-through and soft embeddings


def _st_example(seed=0):
    gen = torch.Generator().manual_seed(seed)
    logits = (torch.randn(3, 7, 50, generator=gen) * 3).requires_grad_()
    ids = torch.randint(0, 50, (3, 7), generator=gen)
    return logits, ids


@settings(max_examples=100, deadline=None)
@given(st.data(), st.sampled_from([8, 64, 192]), st.integers(1, 5))
def test_the_cpu_decoding_paths_equal_masked_fill_and_argmax(data, vocab, rows):
    """apply_mask without gradient, first_argmax and outer_and take faster ways on the CPU (docs/performance.md);
    their results must be torch's masked_fill, argmax (the lowest index on ties) and broadcast &, exactly."""
    values = st.sampled_from([0.0, -1.5, 2.0, 1e30, -1e30, float("-inf")])  # ties, huge values, -inf
    scores = torch.tensor([[data.draw(values) for _ in range(vocab)] for _ in range(rows)])
    forbid = torch.tensor([[data.draw(st.booleans()) for _ in range(vocab)] for _ in range(rows)])
    if data.draw(st.booleans()):
        forbid[0] = True  # a row with no token left
    masked = apply_mask(scores, forbid)
    assert torch.equal(masked, scores.masked_fill(forbid, float("-inf")))
    assert torch.equal(apply_mask(scores, forbid[0]), scores.masked_fill(forbid[0], float("-inf")))  # broadcast
    assert torch.equal(first_argmax(masked), masked.argmax(-1))
    assert torch.equal(first_argmax(masked[None]), masked[None].argmax(-1))  # (..., V)
    column = torch.tensor([data.draw(st.booleans()) for _ in range(vocab)])
    assert torch.equal(outer_and(forbid[:, 0].clone(), column), forbid[:, :1] & column)


def test_apply_mask_keeps_the_masked_fill_gradient():
    scores = torch.randn(3, 64, requires_grad=True)
    forbid = torch.rand(3, 64) < 0.5
    apply_mask(scores, forbid).exp().sum().backward()
    assert torch.equal(scores.grad == 0, forbid)  # no gradient into forbidden tokens


def test_straight_through_forward_is_one_hot_within_float_rounding():
    logits, ids = _st_example()
    out = straight_through(logits, ids, 1.0)
    assert out.shape == (3, 7, 50)
    assert torch.allclose(out, F.one_hot(ids, 50).float(), atol=1e-6, rtol=0)
    assert torch.equal(out.argmax(-1), ids)


def test_straight_through_forward_is_an_exact_one_hot():
    logits, ids = _st_example()
    out = straight_through(logits, ids, 1.0)
    assert torch.equal(out, F.one_hot(ids, 50).float())


def test_straight_through_gradient_is_the_softmax_gradient():
    logits, ids = _st_example()
    weights = torch.randn(3, 7, 50, generator=torch.Generator().manual_seed(1))
    (straight_through(logits, ids, 0.7) * weights).sum().backward()
    grad = logits.grad.clone()
    assert grad.abs().sum() > 0
    logits.grad = None
    (torch.softmax(logits / 0.7, -1) * weights).sum().backward()
    assert torch.allclose(grad, logits.grad, atol=1e-6)


def test_straight_through_gives_masked_tokens_no_probability_and_no_gradient():
    logits, ids = _st_example()
    forbid = torch.zeros(3, 7, 50, dtype=torch.bool)
    forbid[..., 40:] = True
    ids = ids % 40  # the chosen tokens are allowed ones
    masked = apply_mask(logits, forbid)
    out = straight_through(masked, ids, 1.0)
    (out * torch.randn(3, 7, 50)).sum().backward()
    assert torch.isfinite(logits.grad).all()
    assert logits.grad[..., 40:].abs().sum() == 0
    assert logits.grad[..., :40].abs().sum() > 0
    assert torch.isfinite(out).all()


def test_straight_through_with_forbid_and_keep_equals_the_masked_product_in_values_and_gradients():
    """The training step's form, straight_through(scores, ids, tau, forbid, keep), against the same built from
    autograd ops: straight_through(apply_mask(scores, forbid), ids, tau) * keep."""
    torch.manual_seed(0)
    logits = torch.randn(3, 7, 64) * 3
    ids = torch.randint(0, 40, (3, 7))
    forbid = torch.rand(3, 7, 64) < 0.4
    forbid[..., 40:] = True
    forbid.scatter_(2, ids[..., None], False)  # the chosen tokens are allowed
    keep = torch.rand(3, 7) < 0.7
    weights = torch.randn(3, 7, 64)
    outs, grads = [], []
    for fused in (True, False):
        x = logits.clone().requires_grad_(True)
        out = (straight_through(x, ids, 0.5, forbid=forbid, keep=keep) if fused
               else straight_through(x.masked_fill(forbid, float("-inf")), ids, 0.5) * keep[..., None])
        (out * weights).sum().backward()
        outs.append(out.detach())
        grads.append(x.grad)
    assert torch.equal(outs[0], outs[1])  # exactly the one-hots, zero where keep is False
    assert torch.allclose(grads[0], grads[1], atol=1e-6)
    assert (grads[0][forbid] == 0).all() and (grads[0][~keep] == 0).all()


def test_soft_embed_of_a_hard_one_hot_is_an_embedding_lookup():
    gen = torch.Generator().manual_seed(0)
    weight = torch.randn(50, 16, generator=gen)
    ids = torch.randint(0, 50, (4, 9), generator=gen)
    out = soft_embed(F.one_hot(ids, 50), weight)  # an integer one-hot is cast to the weight's dtype
    assert out.shape == (4, 9, 16)
    assert torch.equal(out, F.embedding(ids, weight))


def test_soft_embed_of_a_straight_through_one_hot_matches_the_dense_product_in_values_and_gradients():
    # the CPU shortcut (row lookup, sparse weight gradient) against the plain matmul it replaces
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(3, 5, 30, generator=gen, requires_grad=True)
    weight = torch.randn(30, 8, generator=gen, requires_grad=True)
    keep = torch.tensor([[1.0] * 5, [1.0, 1.0, 1.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0, 0.0]])[..., None]
    one_hot = straight_through(logits, torch.randint(0, 30, (3, 5), generator=gen), 0.7) * keep
    upstream = torch.randn(3, 5, 8, generator=gen)
    grads = []
    for embed in (soft_embed, lambda x, w: x @ w):
        out = embed(one_hot, weight)
        grad = torch.autograd.grad((out * upstream).sum(), (logits, weight), retain_graph=True)
        grads.append((out.detach(), *grad))
    for fast, dense in zip(*grads):
        assert torch.allclose(fast, dense, atol=1e-6)
    assert grads[0][2][one_hot.detach().sum((0, 1)) == 0].abs().sum() == 0  # unread rows get no gradient


def test_soft_embed_with_the_hot_ids_matches_the_dense_product_without_checking_the_tensor():
    # the path a GPU takes: the caller names the hot tokens (-1: an all-zero row), so no host-side check runs
    gen = torch.Generator().manual_seed(1)
    logits = torch.randn(3, 6, 40, generator=gen, requires_grad=True)
    weight = torch.randn(40, 8, generator=gen, requires_grad=True)
    summary = torch.randint(0, 40, (3, 6), generator=gen)
    summary[0, :3] = 7  # a repeated token: its weight row sums several gradients
    keep = torch.rand(3, 6, generator=gen) < 0.7
    one_hot = straight_through(logits, summary, 0.5, keep=keep)
    ids = torch.where(keep, summary, -1)
    upstream = torch.randn(3, 6, 8, generator=gen)
    results = []
    for embed in (lambda x, w: soft_embed(x, w, ids), lambda x, w: x @ w):
        out = embed(one_hot, weight)
        grad = torch.autograd.grad((out * upstream).sum(), (logits, weight), retain_graph=True)
        results.append((out.detach(), *grad))
    for fast, dense in zip(*results):
        assert torch.allclose(fast, dense, atol=1e-6)
    assert (results[0][0][~keep] == 0).all()


def test_soft_embed_given_ids_backward_runs_under_the_forwards_autocast():
    # under bf16 autocast the dense product's one-hot gradient is a bf16 matmul; the lookup's backward matches it
    gen = torch.Generator().manual_seed(2)
    one_hot = F.one_hot(torch.randint(0, 30, (2, 4), generator=gen), 30).float().requires_grad_()
    weight = torch.randn(30, 8, generator=gen, requires_grad=True)
    ids = one_hot.detach().argmax(-1)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = soft_embed(one_hot, weight, ids)
    grad_hot, grad_weight = torch.autograd.grad(out.float().sum(), (one_hot, weight))
    assert grad_weight.dtype == torch.float32
    with torch.autocast("cpu", dtype=torch.bfloat16):
        dense_grad = torch.ones(2, 4, 8) @ weight.t()
    assert torch.equal(grad_hot.to(dense_grad.dtype), dense_grad)


def test_hard_ids_names_the_hot_token_or_minus_one():
    one_hot = F.one_hot(torch.tensor([[3, 1, 0]]), 5).float()
    one_hot[0, 2] = 0  # an all-zero row
    assert hard_ids(one_hot).tolist() == [[3, 1, -1]]


def test_soft_embed_of_a_distribution_is_the_expected_embedding():
    weight = torch.tensor([[1.0, 0.0], [0.0, 2.0], [4.0, 4.0]])
    probs = torch.tensor([[[0.5, 0.5, 0.0], [0.25, 0.25, 0.5]]])
    assert torch.allclose(soft_embed(probs, weight), torch.tensor([[[0.5, 1.0], [2.25, 2.5]]]))


# ---------------------------------------------------------------- word counts, EOS masks, lead targets


def test_word_counts_counts_words_begun_before_each_position():
    ids = torch.tensor([[A, C, B, EOS, PAD], [B, A, A, D, EOS]])
    assert word_counts(ids, WORD_START).tolist() == [[0, 1, 1, 2, 2], [0, 1, 2, 3, 3]]


def test_after_eos_mask_marks_only_positions_after_the_first_eos():
    ids = torch.tensor([[A, EOS, PAD, PAD], [A, B, C, EOS], [EOS, A, EOS, B]])
    assert after_eos_mask(ids, EOS).tolist() == [[False, False, True, True], [False, False, False, False],
                                                 [False, True, True, True]]


def _lead(doc, target, max_tokens):
    return lead_targets(torch.tensor(doc), torch.tensor(target), word_start=WORD_START, max_tokens=max_tokens,
                        eos_id=EOS, pad_id=PAD).tolist()


def test_lead_targets_are_the_first_k_words_then_eos():
    doc = [[A, C, B, D, A, EOS, PAD]]  # words: "ac", "bd", "a"
    assert _lead(doc, [1], 6) == [[A, C, EOS, PAD, PAD, PAD]]
    assert _lead(doc, [2], 6) == [[A, C, B, D, EOS, PAD]]


def test_lead_targets_rows_use_their_own_targets():
    doc = [[A, C, B, D, A, EOS, PAD], [B, A, EOS, PAD, PAD, PAD, PAD]]
    assert _lead(doc, [1, 2], 5) == [[A, C, EOS, PAD, PAD], [B, A, EOS, PAD, PAD]]


def test_lead_targets_keep_room_for_eos_when_the_words_do_not_fit():
    assert _lead([[A, C, B, D, A, EOS, PAD]], [3], 3) == [[A, C, EOS]]


def test_lead_targets_of_a_short_document_are_the_whole_document():
    doc = [[A, C, B, EOS, PAD]]
    assert _lead(doc, [5], 7) == [[A, C, B, EOS, PAD, PAD, PAD]]


# ---------------------------------------------------------------- length targets


@settings(max_examples=200, deadline=None)
@given(doc_words=st.lists(st.integers(0, 200), min_size=1, max_size=8), r1=st.floats(0.01, 1.0),
       r2=st.floats(0.01, 1.0), min_words=st.integers(1, 10), extra=st.integers(0, 20), seed=st.integers(0, 99))
def test_target_words_stay_in_bounds(doc_words, r1, r2, min_words, extra, seed):
    ratio_min, ratio_max = min(r1, r2), max(r1, r2)
    max_words = min_words + extra
    words = torch.tensor(doc_words)
    out = target_words(words, ratio_min=ratio_min, ratio_max=ratio_max, min_words=min_words, max_words=max_words,
                       generator=torch.Generator().manual_seed(seed))
    assert out.shape == words.shape and out.dtype == torch.long
    for n, k in zip(doc_words, out.tolist()):
        assert 1 <= k <= max_words
        assert k <= max(n, 1), "more words asked than the document has"
        assert k >= min(min_words, max(n, 1))
        low = min(max(math.floor(n * ratio_min), min_words), max_words, max(n, 1))
        high = min(max(math.ceil(n * ratio_max), min_words), max_words, max(n, 1))
        assert low <= k <= high


def test_target_words_with_a_fixed_ratio_is_the_rounded_ratio():
    out = target_words(torch.tensor([10, 20, 40, 3]), ratio_min=0.5, ratio_max=0.5, min_words=2, max_words=12)
    assert out.tolist() == [5, 10, 12, 2]


def test_target_words_default_share_asks_the_default_length_of_that_share():
    docs = torch.full((4000,), 30)  # the ratio rule gives 3-6 words here, never 13
    gen = torch.Generator().manual_seed(0)
    out = target_words(docs, ratio_min=0.1, ratio_max=0.2, min_words=2, max_words=20, default_words=13,
                       default_share=0.25, generator=gen)
    assert abs((out == 13).float().mean().item() - 0.25) < 0.03
    assert set(out[out != 13].tolist()) <= set(range(3, 7))
    short = target_words(torch.tensor([5, 40]), ratio_min=0.1, ratio_max=0.1, min_words=1, max_words=20,
                         default_words=13, default_share=1.0)
    assert short.tolist() == [5, 13]  # never more words than the document has
    off = target_words(docs[:50], ratio_min=0.1, ratio_max=0.2, min_words=2, max_words=20, default_words=13,
                       default_share=0.0, generator=torch.Generator().manual_seed(1))
    assert torch.equal(off, target_words(docs[:50], ratio_min=0.1, ratio_max=0.2, min_words=2, max_words=20,
                                         generator=torch.Generator().manual_seed(1)))  # 0: the ratio rule's targets


def test_words_for_request_fixed_words_are_clamped_to_the_model():
    doc = torch.tensor([0, 5, 100])
    assert words_for_request(doc, words=4, ratio=None, max_words=10).tolist() == [4, 4, 4]
    assert words_for_request(doc, words=30, ratio=None, max_words=10).tolist() == [10, 10, 10]


def test_words_for_request_ratio_is_a_share_of_each_document():
    doc = torch.tensor([0, 1, 10, 21, 100])
    assert words_for_request(doc, words=None, ratio=0.5, max_words=12).tolist() == [1, 1, 5, 10, 12]
    # the ratio wins over words when both are given (the CLI forbids giving both)
    assert words_for_request(doc, words=3, ratio=0.2, max_words=12).tolist() == [1, 1, 2, 4, 12]


# ---------------------------------------------------------------- document_word_mask

BOUNDARY = WORD_START | (torch.arange(8) == EOS)


def padded_docs(docs):
    """Token lists -> documents as the compressor reads them: each + EOS, padded to the longest + 2."""
    width = max(len(d) for d in docs) + 2
    return [d + [EOS] + [PAD] * (width - len(d) - 1) for d in docs]


def spelled_allowed(prev, doc):
    """Allowed tokens after a word that ends wherever the document holds its last piece, prev."""
    doc = torch.tensor(doc)
    forbid = document_word_mask(piece_positions(torch.tensor(prev), doc, PAD), doc, BOUNDARY, PAD)
    return [set((~row).nonzero().flatten().tolist()) for row in forbid]


def test_document_word_mask_follows_the_documents_spelling():
    # document: "▁a c d ▁b </s>" = words "acd" and "b"
    doc = [[A, C, D, B, EOS, PAD]] * 5
    every = set(range(8))
    got = spelled_allowed([A, C, D, B, UNK], doc)
    assert got[0] == {C}  # "▁a" continues with "c", as in the document
    assert got[1] == {D}  # "c" with "d"
    assert got[2] == {A, B, EOS}  # "d" ends the word: anything that begins something new
    assert got[3] == {A, B, EOS}  # "▁b" is a whole word (followed by EOS)
    assert got[4] == every  # <unk> is not in the document: no constraint


def test_document_word_mask_takes_every_occurrence():
    # "▁a c" and "▁a d": after "▁a" both spellings are allowed; pad never counts as a document piece
    doc = [[A, C, B, A, D, EOS, PAD, PAD]]
    assert spelled_allowed([A], doc)[0] == {C, D}
    assert spelled_allowed([PAD], doc)[0] == set(range(8))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.sampled_from([A, B, C, D]), min_size=1, max_size=7), min_size=1, max_size=4),
       st.data())
def test_document_word_mask_matches_a_python_reference(docs, data):
    rows = padded_docs(docs)
    prev = [[data.draw(st.sampled_from([A, B, C, D, UNK])) for _ in range(3)] for _ in rows]
    ends = piece_positions(torch.tensor(prev), torch.tensor(rows), PAD)  # (B, S, L-1)
    forbid = document_word_mask(ends, torch.tensor(rows), BOUNDARY, PAD)  # (B, S, V)
    for b, d in enumerate(rows):
        real = [t for t in d if t != PAD]
        for s, p in enumerate(prev[b]):
            followers = {real[j + 1] for j in range(len(real) - 1) if real[j] == p}
            if not followers:
                expected = set()
            else:
                ok = set(followers)
                if any(BOUNDARY[f] for f in followers):
                    ok |= {t for t in range(8) if BOUNDARY[t]}
                expected = set(range(8)) - ok
            assert set(forbid[b, s].nonzero().flatten().tolist()) == expected


def masked_choice(scores, forbid, ends, doc, temperature=0.0, generator=None, boundary=BOUNDARY):
    """The reference choose_spelled must equal: the full (B, V) spelling mask, the rules alone where it is full."""
    spelled = forbid | document_word_mask(ends, doc, boundary, PAD)
    spelled = torch.where(spelled.all(-1, keepdim=True), forbid, spelled)
    masked = scores.masked_fill(spelled, float("-inf"))  # torch's own ops, not the fast CPU paths under test
    if temperature == 0:
        return masked.argmax(-1)
    uniform = torch.rand(masked.shape, generator=generator).clamp_(1e-9, 1 - 1e-9)
    return (masked / temperature - torch.log(-torch.log(uniform))).argmax(-1)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(st.sampled_from([A, B, C, D]), min_size=1, max_size=7), min_size=1, max_size=5),
       st.data())
def test_choose_spelled_is_choose_under_the_spelling_mask(docs, data):
    doc = torch.tensor(padded_docs(docs))
    rows, width = doc.shape
    # where the word so far ends: any set of document positions (advance_word makes them; every set is possible)
    ends = torch.tensor([[data.draw(st.booleans()) for _ in range(width - 1)] for _ in range(rows)])
    ends &= doc[:, :-1] != PAD
    # few distinct score values, so ties are common: the lowest token id must win them, as in argmax
    # 8 tokens, or 64 or 128 (the vocabulary sizes where the CPU's chunked argmax takes over; the tokens above 8
    # never occur in the documents)
    vocab = data.draw(st.sampled_from([8, 64, 128]))
    scores = torch.tensor([[data.draw(st.sampled_from([0.0, 1.0, 2.0])) for _ in range(vocab)] for _ in range(rows)])
    forbid = torch.tensor([[data.draw(st.booleans()) for _ in range(vocab)] for _ in range(rows)])
    # any boundary set, so that continuation pieces may have lower ids than word starts (as in real vocabularies)
    boundary = torch.tensor([data.draw(st.booleans()) for _ in range(vocab)])
    assert choose_spelled(scores, forbid, ends, doc, boundary, PAD).tolist() == \
        masked_choice(scores, forbid, ends, doc, boundary=boundary).tolist()
    # without the host sync (CUDA graphs): the same choice
    assert choose_spelled(scores, forbid, ends, doc, boundary, PAD, sync_free=True).tolist() == \
        masked_choice(scores, forbid, ends, doc, boundary=boundary).tolist()
    seed = data.draw(st.integers(0, 2**16))
    sampled = choose_spelled(scores, forbid, ends, doc, boundary, PAD, 0.7, torch.Generator().manual_seed(seed))
    expected = masked_choice(scores, forbid, ends, doc, 0.7, torch.Generator().manual_seed(seed), boundary)
    assert sampled.tolist() == expected.tolist()


def test_choose_spelled_finishes_a_copied_word_and_frees_the_choice_after_it():
    doc = torch.tensor([[A, C, D, B, EOS, PAD]] * 3)  # words "acd" and "b"
    scores = torch.tensor([[0.0, 0, 0, 0, 9, 0, 1, 5]] * 3)  # "▁b" scores best, then token 7, then "d"
    forbid = torch.zeros(3, 8, dtype=torch.bool)
    ends = piece_positions(torch.tensor([C, D, UNK]), doc, PAD)
    # after "c" only "d" may follow; after "d" (a word end) the best new word; after <unk> anything
    assert choose_spelled(scores, forbid, ends, doc, BOUNDARY, PAD).tolist() == [D, B, B]
    forbid[:, D] = True  # the rules forbid "d": after "c" nothing is left, so the rules alone decide
    assert choose_spelled(scores, forbid, ends, doc, BOUNDARY, PAD).tolist() == [B, B, B]


def test_choose_spelled_on_documents_of_one_token_follows_the_rules_alone():
    doc = torch.tensor([[EOS], [EOS]])  # blank documents: EOS only
    scores = torch.tensor([[0.0, 0, 0, 0, 9, 0, 1, 5], [0.0, 0, 0, 3, 1, 0, 1, 0]])
    forbid = torch.zeros(2, 8, dtype=torch.bool)
    ends = piece_positions(torch.tensor([EOS, A]), doc, PAD)  # (2, 0): no position has a follower
    assert choose_spelled(scores, forbid, ends, doc, BOUNDARY, PAD).tolist() == [B, A]


# ---------------------------------------------------------------- advance_word: the whole word, not its last piece


def reference_word_ends(ids, doc):
    """advance_word in plain Python: document positions (with a follower) where the word so far ends."""
    real = [t for t in doc if t != PAD]
    out, ends = [], set()
    for t in ids:
        at = {j for j in range(len(real) - 1) if real[j] == t}
        extended = {j for j in at if j - 1 in ends}
        ends = at if (BOUNDARY[t] or not extended) else extended
        out.append(ends)
    return out


@settings(max_examples=80, deadline=None)
@given(st.lists(st.lists(st.sampled_from([A, B, C, D]), min_size=1, max_size=8), min_size=1, max_size=4),
       st.data())
def test_word_ends_match_a_python_reference(docs, data):
    rows = padded_docs(docs)
    ids = [[data.draw(st.sampled_from([A, B, C, D, UNK])) for _ in range(5)] for _ in rows]
    got = word_ends(torch.tensor(ids), torch.tensor(rows), BOUNDARY, PAD)  # (B, S, L-1)
    for b in range(len(rows)):
        for s, expected in enumerate(reference_word_ends(ids[b], rows[b])):
            assert set(got[b, s].nonzero().flatten().tolist()) == expected
    before = ends_before(torch.tensor(ids), torch.tensor(rows), BOUNDARY, PAD)
    assert not before[:, 0].any() and torch.equal(before[:, 1:], got[:, :-1])


def test_a_copied_word_follows_one_occurrence_to_its_end_and_is_never_spliced():
    # "▁a c d ▁b c c </s>": the piece "c" follows "▁a" and "▁b", "d" only the "c" of "▁a c"; after "▁b c" the
    # document goes on with "c", never with the "d" of the other word (a match of "c" alone would allow both)
    doc = torch.tensor([[A, C, D, B, C, C, EOS, PAD]])
    ends = empty_ends(doc)
    allowed = []
    for token in (B, C):
        ends = advance_word(ends, torch.tensor([token]), doc, BOUNDARY, PAD)
        allowed.append(set((~document_word_mask(ends, doc, BOUNDARY, PAD)[0]).nonzero().flatten().tolist()))
    assert allowed == [{C}, {C}]  # "▁b" goes on with "c"; "▁b c" with "c" ("▁b c c"), not "d"
    # a match of the last piece alone would allow "▁b c d" (and, as the last "c" ends a word, any new word)
    assert spelled_allowed([C], doc.tolist())[0] == {C, D, A, B, EOS}
    ends = advance_word(ends, torch.tensor([C]), doc, BOUNDARY, PAD)  # "▁b c c" ends before EOS
    assert set((~document_word_mask(ends, doc, BOUNDARY, PAD)[0]).nonzero().flatten().tolist()) == {A, B, EOS}


def test_a_novel_piece_starts_a_match_of_its_own():
    doc = torch.tensor([[A, C, D, EOS]])
    ends = advance_word(empty_ends(doc), torch.tensor([UNK]), doc, BOUNDARY, PAD)
    assert not ends.any()  # <unk> is in no document: nothing constrains the next piece
    ends = advance_word(ends, torch.tensor([C]), doc, BOUNDARY, PAD)
    assert ends.tolist() == [[False, True, False]]  # "c" alone, where the document has it: "d" must follow
