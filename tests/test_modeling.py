"""Tokenizer, SummaeModel and Discriminator on a tiny vocabulary and tiny models (d_model 32, one layer).

The models are untrained: the tests check the mechanics (length rules, gradient paths, save/load), not quality.
"""

import json
from contextlib import nullcontext
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from transformers.modeling_outputs import BaseModelOutput

from summae.tokenization import encode_texts, pad_ids
from summae.decode.rules import apply_mask, document_word_mask, ends_before, word_counts
from summae.config import load_config
from summae.model.discriminator import Discriminator
from summae.model.build import build_models, load_for_inference, padded_vocab_size
from summae.model.losses import token_nll
from summae.model.autoencoder import SummaeModel, shift_right
from summae.fast.bart import cross_projections_once
from summae.tokenization import VocabInfo, length_token, train_sentencepiece

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "summae" / "data" / "debian" / "train.jsonl"
SAMPLES = ["Tools for manipulating MSDOS files", "GNU R functions relating to the smoothing of numerical data",
           "ünïcödé text — and some (punctuation), numbers 3.14 and <len_3> written by hand"]


@pytest.fixture(scope="module")
def docs():
    with open(CORPUS, encoding="utf-8") as handle:
        return [json.loads(line)["document"] for _, line in zip(range(400), handle)]


@pytest.fixture(scope="module", params=[True, False], ids=["copy", "nocopy"])
def cfg(request):
    """tiny.yaml with and without the copy (pointer) head on the compressor."""
    return load_config(REPO / "summae" / "configs" / "tiny.yaml",
                       ["train.rec_word_dropout=0", f"model.copy={request.param}"])


@pytest.fixture(scope="module")
def tokenizer(docs):
    base = load_config(REPO / "summae" / "configs" / "tiny.yaml")
    return train_sentencepiece(docs, vocab_size=base.tokenizer.vocab_size, max_words=base.summary.max_words)


@pytest.fixture(scope="module")
def built(cfg, tokenizer):
    torch.manual_seed(0)
    model, disc, vocab = build_models(cfg, tokenizer)
    return model.eval(), disc, vocab


@pytest.fixture(scope="module")
def batch(docs, tokenizer, built, cfg):
    """24 documents as the compressor sees them, with mixed word targets 1..max_words."""
    _, _, vocab = built
    width = cfg.model.max_source_tokens
    ids, _ = encode_texts(tokenizer, docs[:24], width - 1)
    doc = pad_ids(ids, eos_id=vocab.eos_id, pad_id=vocab.pad_id, width=width)  # (B, L)
    target = torch.arange(24) % cfg.summary.max_words + 1  # (B,)
    return doc, target


def compressor_inputs(model, doc, target):
    return model.compressor_inputs(doc, doc != model.vocab.pad_id, target)


def next_token_scores(model, comp_ids, comp_mask, dec_in):
    """The compressor's next-token scores (B, T, V) in one teacher-forced pass (copy head included)."""
    scores, _ = model.compressor_scores(model.encode(comp_ids, comp_mask), comp_mask, comp_ids, dec_in)
    return scores


def decode(tokenizer, ids):
    return tokenizer.batch_decode(ids.tolist(), skip_special_tokens=True)


# ---------------------------------------------------------------- tokenizer


def test_tokenizer_save_and_autotokenizer_load_give_the_same_ids(tokenizer, tmp_path):
    from transformers import AutoTokenizer

    tokenizer.save_pretrained(tmp_path)
    loaded = AutoTokenizer.from_pretrained(tmp_path)
    assert len(loaded) == len(tokenizer)
    assert loaded.get_vocab() == tokenizer.get_vocab()
    for text in SAMPLES:
        assert loaded(text)["input_ids"] == tokenizer(text)["input_ids"]
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        assert loaded.decode(ids) == tokenizer.decode(ids)
    assert (loaded.pad_token_id, loaded.eos_token_id, loaded.unk_token_id) == (0, 1, 2)


def test_length_tokens_are_single_special_tokens_that_survive_save_load(tokenizer, cfg, tmp_path):
    from transformers import AutoTokenizer

    tokenizer.save_pretrained(tmp_path)
    loaded = AutoTokenizer.from_pretrained(tmp_path)
    ids = [tokenizer.convert_tokens_to_ids(length_token(k)) for k in range(1, cfg.summary.max_words + 1)]
    assert len(set(ids)) == cfg.summary.max_words and tokenizer.unk_token_id not in ids
    for k, i in enumerate(ids, 1):
        for tok in (tokenizer, loaded):
            assert tok.tokenize(length_token(k)) == [length_token(k)]
            assert tok(length_token(k), add_special_tokens=False)["input_ids"] == [i]
            assert tok(f"{length_token(k)} a b", add_special_tokens=False)["input_ids"][0] == i
    for tok in (tokenizer, loaded):
        info = VocabInfo(tok, 320, cfg.summary.max_words)
        assert info.length_ids == ids
        assert info.banned[ids].all()  # steering tokens, never written into a summary


def test_vocab_info_bans_specials_and_unused_rows_but_not_eos(tokenizer, cfg):
    vocab = VocabInfo(tokenizer, padded_vocab_size(tokenizer), cfg.summary.max_words)
    assert padded_vocab_size(tokenizer) % 64 == 0 and padded_vocab_size(tokenizer) >= len(tokenizer)
    banned = set(vocab.banned.nonzero().flatten().tolist())
    assert {vocab.pad_id, vocab.unk_id, *vocab.length_ids} <= banned
    assert set(range(len(tokenizer), padded_vocab_size(tokenizer))) <= banned
    assert vocab.eos_id not in banned
    pieces = tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))
    for i, piece in enumerate(pieces):
        assert bool(vocab.word_start[i]) == piece.startswith("\u2581"), piece
    assert not vocab.word_start[vocab.eos_id]


def test_too_few_texts_to_train_a_tokenizer_is_a_summae_error():
    from summae.errors import SummaeError

    with pytest.raises(SummaeError, match="at least 10"):
        train_sentencepiece(["a b c", " ", ""], vocab_size=100, max_words=3)


# ---------------------------------------------------------------- writing summaries


def _check_word_targets(tokenizer, summary, target, max_tokens, eos_id, word_start, *, decoded_exact=False):
    """Decoded summaries never exceed their target; one that stops by itself (EOS before the last position)
    has begun exactly `target` words (token level), and with decoded_exact also reads as that many words."""
    texts = decode(tokenizer, summary)
    for row, text, k in zip(summary.tolist(), texts, target.tolist()):
        words = len(text.split())
        assert words <= k, (k, text)
        if eos_id in row[: max_tokens - 1]:
            end = row.index(eos_id)
            begun = sum(bool(word_start[t]) for t in row[:end])
            assert begun == k, f"stopped by itself after {begun} words for a target of {k}: {text!r}"
            if decoded_exact:
                assert words == k, f"stopped by itself with {words} words for a target of {k}: {text!r}"
    return texts


@pytest.mark.parametrize("temperature", [0.0, 1.0, 3.0])
def test_write_summary_obeys_the_word_target(built, batch, tokenizer, cfg, temperature):
    model, _, vocab = built
    doc, target = batch
    comp_ids, comp_mask = compressor_inputs(model, doc, target)
    summary = model.write_summary(comp_ids, comp_mask, target, temperature=temperature,
                                  generator=torch.Generator().manual_seed(1))
    assert summary.shape == (24, cfg.model.max_summary_tokens)
    texts = _check_word_targets(tokenizer, summary, target, cfg.model.max_summary_tokens, vocab.eos_id,
                                model.word_start)
    assert any(texts)
    # structure: the first token starts a word, nothing banned, every row ends in EOS, only pad after it
    assert vocab.word_start[summary[:, 0]].all()
    for row in summary.tolist():
        assert vocab.eos_id in row
        end = row.index(vocab.eos_id)
        assert all(t == vocab.pad_id for t in row[end + 1:])
        assert sum(bool(vocab.word_start[t]) for t in row[:end]) <= cfg.summary.max_words
        _check_row_tokens(model, vocab, row)


def _check_row_tokens(model, vocab, row):
    """Nothing banned before the EOS, and (with no_repeat_words) no word-start piece twice."""
    end = row.index(vocab.eos_id)
    assert not any(vocab.banned[t] for t in row[:end])
    if getattr(model, "no_repeat_words", False):
        starts = [t for t in row[:end] if vocab.word_start[t]]
        assert len(starts) == len(set(starts)), f"a word-start piece repeats: {row}"


def test_write_summary_counts_words_exactly_on_token_level(built, batch):
    model, _, vocab = built
    doc, target = batch
    summary = model.write_summary(*compressor_inputs(model, doc, target), target)
    counts = word_counts(summary, model.word_start)  # (B, S) words before each position
    ends = (summary == vocab.eos_id).float().argmax(1)
    written = counts[torch.arange(len(ends)), ends]  # words before the EOS
    ended_early = ends < summary.shape[1] - 1
    assert (written <= target).all()
    assert torch.equal(written[ended_early], target[ended_early])


def test_summary_that_stops_by_itself_has_exactly_target_words_even_with_lone_word_markers(built, tokenizer, cfg,
                                                                                           batch):
    model, _, vocab = built
    lone = tokenizer.convert_tokens_to_ids("\u2581")
    assert vocab.word_start[lone]
    other = next(int(i) for i in vocab.word_start.nonzero().flatten() if i != lone and not vocab.banned[i])
    doc, _ = batch
    target = torch.full((doc.shape[0],), 2)
    bias = model.compressor.final_logits_bias  # (1, V) buffer of BART: steer the untrained model
    saved = bias.clone()
    gate = model.copy_head.gate.bias if model.copy_head is not None else torch.zeros(1)
    saved_gate = gate.detach().clone()
    try:
        with torch.no_grad():
            gate += 50.0  # copy head (if any): trust the vocabulary head
            bias[0, lone] += 30.0  # the first word is a lone "▁" ...
            bias[0, other] += 25.0  # ... the second (if "▁" may not repeat) another word-start piece ...
            bias[0, vocab.eos_id] += 20.0  # ... then EOS as soon as the rules allow it
        summary = model.write_summary(*compressor_inputs(model, doc, target), target)
    finally:
        with torch.no_grad():
            bias.copy_(saved)
            gate.copy_(saved_gate)
    # the lone marker decodes to no word (and would break the word count): it is banned, however likely
    assert vocab.banned[lone] and not (summary == lone).any()
    _check_word_targets(tokenizer, summary, target, cfg.model.max_summary_tokens, vocab.eos_id, model.word_start,
                        decoded_exact=True)


def test_cached_greedy_decoding_matches_a_full_forward_pass_under_the_rules(built, batch):
    # the KV-cached decoding loop and the teacher-forced pass of training must see the same logits and rules
    model, _, vocab = built
    doc, target = batch
    comp_ids, comp_mask = compressor_inputs(model, doc, target)
    summary = model.write_summary(comp_ids, comp_mask, target)
    logits = next_token_scores(model, comp_ids, comp_mask, shift_right(summary, vocab.start_id, vocab.pad_id))
    counts = word_counts(summary, model.word_start)
    steps = torch.arange(summary.shape[1])
    forbid = model.rules.step(counts, target, steps)  # (B, S, V)
    if getattr(model, "no_repeat_words", False):
        # word-start pieces already written before each position may not come again
        for t in range(1, summary.shape[1]):
            for b in range(summary.shape[0]):
                for tok in summary[b, :t].tolist():
                    if model.word_start[tok]:
                        forbid[b, t, tok] = True
    if model.whole_words:
        ends = ends_before(summary, comp_ids[:, 1:], model.rules.boundary, vocab.pad_id)  # (B, S, L-1)
        forbid = model.rules.spelled(forbid, ends, comp_ids)
    again = apply_mask(logits.float(), forbid).argmax(-1)  # (B, S)
    live = ~(torch.cumsum((summary == vocab.eos_id).long(), 1) - (summary == vocab.eos_id).long()).bool()
    assert torch.equal(again[live], summary[live])


def test_beam_search_obeys_the_word_target(built, batch, tokenizer, cfg):
    model, _, vocab = built
    doc, target = batch
    summary = model.beam_summary(*compressor_inputs(model, doc, target), target, beams=3)
    assert summary.shape[0] == doc.shape[0] and summary.shape[1] <= cfg.model.max_summary_tokens
    texts = _check_word_targets(tokenizer, summary, target, cfg.model.max_summary_tokens, vocab.eos_id,
                                model.word_start)
    assert any(texts)
    assert vocab.word_start[summary[:, 0]].all()
    for row in summary.tolist():
        _check_row_tokens(model, vocab, row)


def test_beam_search_with_one_beam_is_the_greedy_summary(built, batch):
    model, _, vocab = built
    doc, target = batch
    inputs = compressor_inputs(model, doc, target)
    greedy = model.write_summary(*inputs, target)
    beam = model.beam_summary(*inputs, target, beams=1)
    beam = F.pad(beam, (0, greedy.shape[1] - beam.shape[1]), value=vocab.pad_id)
    assert torch.equal(beam, greedy)


# ---------------------------------------------------------------- training forward pass


def test_reconstruction_loss_on_the_labelled_positions_equals_the_loss_of_the_whole_logits(built, batch):
    """The training loss runs the reconstructor's output head on the document tokens only; the value and every
    gradient are those of token_nll over the (B, L, V) logits, which ignores the padding."""
    model, _, vocab = built
    doc, target = batch
    doc = doc.clone()
    for i in range(0, doc.shape[0], 2):  # every other document shorter: EOS, then padding
        end = 2 + i % (doc.shape[1] - 3)
        doc[i, end] = vocab.eos_id
        doc[i, end + 1:] = vocab.pad_id
    comp_ids, comp_mask = compressor_inputs(model, doc, target)
    summary = model.write_summary(comp_ids, comp_mask, target)
    mask = summary != vocab.pad_id
    one_hot = F.one_hot(summary, model.word_start.shape[0]).float() * mask[..., None]
    losses, grads = [], []
    for packed in (True, False):
        model.zero_grad(set_to_none=True)
        one = one_hot.clone().requires_grad_(True)
        loss = (model.reconstruction_loss(one, mask, doc) if packed
                else token_nll(model.reconstruct(one, mask, doc), doc, vocab.pad_id))  # eval(): no word dropout
        loss.backward()
        losses.append(loss.detach())
        grads.append([one.grad] + [p.grad.clone() for p in model.reconstructor.parameters()])
    model.zero_grad(set_to_none=True)
    assert torch.allclose(losses[0], losses[1], atol=1e-6)
    for a, b in zip(*grads):
        assert torch.allclose(a, b, atol=1e-6, rtol=1e-4)


def test_cross_projections_once_gives_the_same_outputs_and_gradients(built, batch):
    """The training step decodes two row sets from one encoder pass; projecting the cross-attention keys and
    values once for both changes no value and no gradient."""
    model, _, _ = built
    doc, target = batch
    comp_ids, comp_mask = compressor_inputs(model, doc, target)
    n = comp_ids.shape[0]
    dec_in = torch.randint(5, model.word_start.shape[0], (2 * n, 6))
    results = []
    for shared in (False, True):
        model.zero_grad(set_to_none=True)
        enc = model.encode(comp_ids, comp_mask).detach().requires_grad_(True)
        with cross_projections_once(model.compressor, n) if shared else nullcontext():
            out = model.compressor(encoder_outputs=BaseModelOutput(last_hidden_state=enc.repeat(2, 1, 1)),
                                   attention_mask=comp_mask.repeat(2, 1), decoder_input_ids=dec_in)
            if shared:  # active: the second half is the first half's projection, whatever it holds
                probe = model.compressor.get_decoder().layers[0].encoder_attn.k_proj(
                    torch.randn(2 * n, 3, enc.shape[-1]))
                assert torch.equal(probe[:n], probe[n:])
        (out.logits * torch.linspace(-1, 1, out.logits.shape[-1])).sum().backward()
        layer = model.compressor.get_decoder().layers[0].encoder_attn
        results.append([out.logits.detach(), enc.grad, layer.k_proj.weight.grad.clone(),
                        layer.v_proj.bias.grad.clone()])
    model.zero_grad(set_to_none=True)
    assert "forward" not in vars(model.compressor.get_decoder().layers[0].encoder_attn.k_proj)  # restored
    for a, b in zip(*results):
        assert torch.allclose(a, b, atol=1e-5, rtol=1e-4)


def test_spelled_is_the_spelling_mask_or_the_rules_where_it_leaves_nothing(built, batch):
    model, _, vocab = built
    doc, target = batch
    comp_ids, _ = compressor_inputs(model, doc, target)
    summary = torch.randint(4, model.word_start.shape[0], (doc.shape[0], 5))
    summary[:, :3] = doc[:, :3]  # copied words, so the spelling constrains
    ends = ends_before(summary, comp_ids[:, 1:], model.rules.boundary, vocab.pad_id)
    forbid = torch.rand(doc.shape[0], 5, model.word_start.shape[0]) < 0.5
    forbid[:4] = True  # rows the rules leave nothing in: the rules decide there
    spelled = forbid | document_word_mask(ends, comp_ids[:, 1:], model.rules.boundary, vocab.pad_id)
    assert torch.equal(model.rules.spelled(forbid, ends, comp_ids),
                       torch.where(spelled.all(-1, keepdim=True), forbid, spelled))


def test_reconstruction_gradient_reaches_the_compressor_through_the_bottleneck(built, batch, cfg):
    model, _, vocab = built
    doc, target = batch
    comp_ids, comp_mask = compressor_inputs(model, doc, target)
    summary = model.write_summary(comp_ids, comp_mask, target, temperature=1.0,
                                  generator=torch.Generator().manual_seed(0))
    model.train()
    model.zero_grad(set_to_none=True)
    try:
        # no lead_ids: the reconstruction loss is the only loss, and the summary its only path to the compressor
        out = model("autoencode", comp_ids=comp_ids, comp_mask=comp_mask, doc_labels=doc, summary_ids=summary,
                    target=target)
        assert set(out.losses) == {"rec"} and torch.isfinite(out.losses["rec"])
        # the forward value of the bottleneck is the summary itself, zero after EOS
        keep = out.summary_mask
        assert torch.allclose(out.summary_one_hot, F.one_hot(summary, out.summary_one_hot.shape[-1]).float()
                              * keep[..., None], atol=1e-6)
        # the hot tokens the reconstructor and the discriminator embed by lookup: the summary, -1 where not kept
        assert torch.equal(out.one_hot_ids, torch.where(keep, summary, -1))
        out.losses["rec"].backward()
        encoder = model.compressor.get_encoder()
        for name, param in encoder.named_parameters():
            if "embed" in name:
                continue
            assert param.grad is not None and param.grad.abs().sum() > 0, f"no gradient on compressor {name}"
        assert model.compressor.get_decoder().layers[0].fc1.weight.grad.abs().sum() > 0
        assert model.reconstructor.get_decoder().layers[0].fc1.weight.grad.abs().sum() > 0
    finally:
        model.zero_grad(set_to_none=True)
        model.eval()


def test_pretraining_forward_learns_lead_targets_and_rebuilds_from_them(built, batch, cfg):
    from summae.train.pseudo import lead_targets

    model, _, vocab = built
    doc, target = batch
    lead = lead_targets(doc, target, word_start=model.word_start, max_tokens=cfg.model.max_summary_tokens,
                        eos_id=vocab.eos_id, pad_id=vocab.pad_id)
    out = model("pretrain", comp_ids=compressor_inputs(model, doc, target)[0],
                comp_mask=compressor_inputs(model, doc, target)[1], doc_labels=doc, pseudo_ids=lead)
    assert set(out.losses) == {"lead", "rec"}
    assert all(torch.isfinite(v) for v in out.losses.values())
    assert torch.equal(out.summary_one_hot.argmax(-1)[out.summary_mask], lead[out.summary_mask])
    assert torch.equal(out.one_hot_ids, torch.where(out.summary_mask, lead, -1))


# ---------------------------------------------------------------- copy head


def _scores_with_gate(model, batch, gate_bias):
    doc, target = batch
    comp_ids, comp_mask = compressor_inputs(model, doc, target)
    dec_in = shift_right(doc[:, :6], model.vocab.start_id, model.vocab.pad_id)
    gate = model.copy_head.gate.bias
    saved = gate.detach().clone()
    try:
        with torch.no_grad():
            gate.fill_(gate_bias)
            return comp_ids, comp_mask, next_token_scores(model, comp_ids, comp_mask, dec_in)
    finally:
        with torch.no_grad():
            gate.copy_(saved)


def test_copy_head_scores_are_log_probabilities(built, batch, cfg):
    model, _, _ = built
    if model.copy_head is None:
        assert not cfg.model.copy
        pytest.skip("model.copy=false: the scores are plain logits")
    _, _, scores = _scores_with_gate(model, batch, 0.0)
    total = scores.exp().sum(-1)  # (B, T): 1 plus the log floor on every entry
    assert torch.allclose(total, torch.ones_like(total), atol=scores.shape[-1] * 1e-8 + 1e-5)


def test_pure_copying_puts_all_mass_on_the_document_tokens(built, batch, cfg):
    model, _, _ = built
    if model.copy_head is None:
        pytest.skip("model.copy=false")
    comp_ids, comp_mask, scores = _scores_with_gate(model, batch, -60.0)  # gate ~ 0: copy only
    probs = scores.exp()  # (B, T, V)
    for b in range(probs.shape[0]):
        source = set(comp_ids[b][comp_mask[b].bool()].tolist())
        outside = [i for i in range(probs.shape[-1]) if i not in source]
        assert probs[b][:, outside].max() < 1e-6
        assert torch.allclose(probs[b][:, sorted(source)].sum(-1), torch.ones(probs.shape[1]), atol=1e-4)


def test_copy_head_mixture_is_the_gated_sum_of_both_distributions_in_values_and_gradients():
    """p = g * softmax(logits) + (1 - g) * (attention summed per token id), as the docstring of summae.model.copy_head
    writes it, built from a dense (B, T, V) copy table here; the head's own forms (with gradient, and in place
    without) must give the same values, and the same gradients."""
    from summae.model.copy_head import LOG_FLOOR, CopyHead

    torch.manual_seed(0)
    head = CopyHead(16)
    logits = torch.randn(2, 3, 64, requires_grad=True)
    dec_h, enc_h = torch.randn(2, 3, 16), torch.randn(2, 5, 16)
    enc_mask = torch.tensor([[1, 1, 1, 1, 0], [1, 1, 1, 1, 1]])
    src = torch.tensor([[4, 9, 4, 7, 0], [5, 6, 7, 8, 5]])  # repeated ids: their attention adds up
    out = head(logits=logits, dec_h=dec_h, enc_h=enc_h, enc_mask=enc_mask, src_ids=src)
    weights = torch.randn(2, 3, 64)
    (out * weights).sum().backward()
    got_grad = logits.grad.clone()

    logits.grad = None
    head.zero_grad()
    scores = (head.query(dec_h) @ enc_h.transpose(1, 2) / 4.0).masked_fill(~enc_mask.bool()[:, None, :], float("-inf"))
    attn = scores.softmax(-1)
    gate = torch.sigmoid(head.gate(torch.cat([dec_h, attn @ enc_h], dim=-1)))
    table = torch.zeros(2, 3, 64)
    for b in range(2):
        for i in range(5):
            table[b, :, src[b, i]] += attn[b, :, i]
    expected = torch.log(gate * logits.softmax(-1) + (1 - gate) * table + LOG_FLOOR)
    (expected * weights).sum().backward()
    assert torch.allclose(out, expected, atol=1e-6)
    assert torch.allclose(got_grad, logits.grad, atol=1e-6)
    with torch.no_grad():
        in_place = head(logits=logits, dec_h=dec_h, enc_h=enc_h, enc_mask=enc_mask, src_ids=src)
    assert torch.allclose(in_place, expected, atol=1e-6)


# ---------------------------------------------------------------- discriminator


def test_discriminator_reads_ids_and_one_hots_alike_and_passes_gradient(built, batch):
    _, disc, vocab = built
    disc.eval()
    doc, _ = batch
    ids = doc[:, :8]
    mask = ids != vocab.pad_id
    one_hot = F.one_hot(ids, disc.embed.weight.shape[0]).float().requires_grad_()
    from_ids = disc(ids=ids, mask=mask)
    from_one_hot = disc(one_hot=one_hot, mask=mask)
    assert from_ids.shape == (doc.shape[0],)
    assert torch.allclose(from_ids, from_one_hot, atol=1e-6)
    from_one_hot.sum().backward()
    assert one_hot.grad.abs().sum() > 0
    # told the hot tokens (as the trainer does), the same logits and the same gradient, without the hardness check
    told = one_hot.detach().clone().requires_grad_()
    from_told = disc(one_hot=told, mask=mask, one_hot_ids=ids)
    assert torch.allclose(from_told, from_one_hot, atol=1e-6)
    from_told.sum().backward()
    assert torch.allclose(told.grad, one_hot.grad, atol=1e-6)


def test_discriminator_ignores_padding():
    disc = Discriminator(vocab_size=10, d_model=8, filters=4).eval()
    ids = torch.tensor([[3, 4, 5, 1, 0, 0]])
    other_pad = torch.tensor([[3, 4, 5, 1, 7, 8]])  # garbage where the mask is False
    mask = torch.tensor([[True, True, True, True, False, False]])
    assert torch.allclose(disc(ids=ids, mask=mask), disc(ids=other_pad, mask=mask))


# ---------------------------------------------------------------- save / load


@pytest.fixture(scope="module")
def saved(built, tokenizer, cfg, tmp_path_factory):
    """The tiny model saved as a checkpoint directory, the way the trainer writes one."""
    model, _, _ = built
    directory = tmp_path_factory.mktemp("ckpt")
    model.save(directory, tokenizer)
    cfg.to_yaml(directory / "config.yaml")
    (directory / "trainer_state.json").write_text(json.dumps({"step": 0}), encoding="utf-8")
    return directory


def test_load_for_inference_gives_identical_summaries_and_logits(built, batch, saved):
    model, _, vocab = built
    doc, target = batch
    _, _, loaded = load_for_inference(saved, with_reconstructor=True)
    assert isinstance(loaded, SummaeModel) and not loaded.training
    assert torch.equal(loaded.word_start, model.word_start) and torch.equal(loaded.rules.banned, model.rules.banned)
    assert (loaded.copy_head is None) == (model.copy_head is None)
    if model.copy_head is not None:
        for key, value in model.copy_head.state_dict().items():
            assert torch.equal(loaded.copy_head.state_dict()[key], value), key
    inputs = compressor_inputs(model, doc, target)
    assert torch.equal(loaded.write_summary(*inputs, target), model.write_summary(*inputs, target))
    assert torch.equal(loaded.beam_summary(*inputs, target, beams=2), model.beam_summary(*inputs, target, beams=2))
    dec_in = shift_right(doc[:, :8], vocab.start_id, vocab.pad_id)
    for a, b in ((loaded.compressor, model.compressor), (loaded.reconstructor, model.reconstructor)):
        la = a(input_ids=inputs[0], attention_mask=inputs[1], decoder_input_ids=dec_in).logits
        lb = b(input_ids=inputs[0], attention_mask=inputs[1], decoder_input_ids=dec_in).logits
        assert torch.equal(la, lb)


def test_copy_head_is_saved_beside_the_compressor_and_required_on_load(saved, cfg, tmp_path):
    import shutil

    from summae.errors import SummaeError
    from summae.model.autoencoder import COPY_HEAD_FILE

    assert (saved / "compressor" / COPY_HEAD_FILE).is_file() == cfg.model.copy
    if cfg.model.copy:
        broken = tmp_path / "broken"
        shutil.copytree(saved, broken)
        (broken / "compressor" / COPY_HEAD_FILE).unlink()
        with pytest.raises(SummaeError, match="copy_head"):
            load_for_inference(broken)


def test_load_for_inference_accepts_the_compressor_folder_and_a_run_directory(saved, tmp_path):
    _, _, from_compressor = load_for_inference(saved / "compressor")
    assert from_compressor.reconstructor is None
    run = tmp_path / "run"
    run.mkdir()
    (run / "best").symlink_to(saved, target_is_directory=True)
    cfg, tok, _ = load_for_inference(run)
    assert cfg.summary.max_words >= 1 and len(tok) > 0


def test_saved_compressor_loads_with_plain_transformers(built, batch, saved, tokenizer):
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    model, _, vocab = built
    doc, target = batch
    plain = AutoModelForSeq2SeqLM.from_pretrained(saved / "compressor").eval()
    plain_tok = AutoTokenizer.from_pretrained(saved / "compressor")
    assert plain_tok("Tools for MSDOS files")["input_ids"] == tokenizer("Tools for MSDOS files")["input_ids"]
    inputs = compressor_inputs(model, doc, target)
    dec_in = shift_right(doc[:, :8], vocab.start_id, vocab.pad_id)
    with torch.no_grad():
        assert torch.equal(plain(input_ids=inputs[0], attention_mask=inputs[1], decoder_input_ids=dec_in).logits,
                           model.compressor(input_ids=inputs[0], attention_mask=inputs[1],
                                            decoder_input_ids=dec_in).logits)
        out = plain.generate(input_ids=inputs[0][:2], attention_mask=inputs[1][:2], max_new_tokens=4)
    assert out.shape[0] == 2 and plain.generation_config.eos_token_id == vocab.eos_id


def test_forward_writes_the_summary_from_its_own_encoder_pass(built, batch):
    # the trainer's main phase: forward(write_temperature=...) writes first, then scores what it wrote;
    # with dropout 0 (tiny.yaml) that is exactly write_summary's greedy summary
    model, _, _ = built
    doc, target = batch
    comp_ids, comp_mask = model.compressor_inputs(doc, doc != model.vocab.pad_id, target)
    model.train()
    try:
        out = model("autoencode", comp_ids=comp_ids, comp_mask=comp_mask, doc_labels=doc, target=target,
                    temperature=0.0)
    finally:
        model.eval()
    assert torch.equal(out.summary_ids, model.write_summary(comp_ids, comp_mask, target))
    assert out.summary_one_hot is not None and torch.isfinite(out.losses["rec"])
    assert model.compressor.get_decoder().training is False  # mode restored (eval here, as the fixture left it)


# ---------------------------------------------------------------- static-cache decoding (summae.fast.static_cache)


@pytest.mark.parametrize("sync_free", [False, True], ids=["eager", "sync_free"])
@pytest.mark.parametrize("temperature", [0.0, 1.0])
def test_static_cache_decoding_writes_what_the_reference_path_writes(built, batch, temperature, sync_free,
                                                                     monkeypatch):
    """The same summaries, token for token (sampled draws included), from the fast path (the static KV cache)
    and from the reference path under summae.fast.reference_paths() (transformers' incremental decoding); the
    fast path did run the static cache, the reference path did not."""
    from summae import fast
    from summae.fast.static_cache import StaticDecoder

    model, _, _ = built
    doc, target = batch
    comp_ids, comp_mask = compressor_inputs(model, doc, target)
    monkeypatch.setattr(fast, "STATIC_CACHE", True)  # off by default where not measured faster
    steps = []
    step = StaticDecoder.step
    monkeypatch.setattr(StaticDecoder, "step", lambda self, *args: steps.append(1) or step(self, *args))

    def write():
        return model.write_summary(comp_ids, comp_mask, target, temperature=temperature, sync_free=sync_free,
                                   generator=torch.Generator().manual_seed(3))

    quick = write()
    static_steps = len(steps)
    with fast.reference_paths():
        reference = write()
    assert static_steps > 0 and len(steps) == static_steps  # two different paths ...
    assert torch.equal(quick, reference)  # ... that write the same summaries
    assert (quick != model.vocab.pad_id).any()


@pytest.mark.parametrize("matmul_attention", [False, True])
def test_static_cache_step_scores_match_a_teacher_forced_pass(built, batch, matmul_attention):
    """Each step's logits and hidden state equal the teacher-forced decoder's at that position, with the
    attention as SDPA and as the two matmuls (bf16 on CPU uses those)."""
    from summae.fast.static_cache import StaticDecoder

    model, _, vocab = built
    doc, target = batch
    comp_ids, comp_mask = compressor_inputs(model, doc, target)
    summary = model.write_summary(comp_ids, comp_mask, target)
    dec_in = shift_right(summary, vocab.start_id, vocab.pad_id)
    with torch.no_grad():
        enc = model.encode(comp_ids, comp_mask)
        out = model.compressor(encoder_outputs=(enc,), attention_mask=comp_mask, decoder_input_ids=dec_in,
                               output_hidden_states=True)
        static = StaticDecoder(model.compressor, enc, comp_mask, dec_in.shape[1])
        assert not static.matmul_attention  # fp32: SDPA
        static.matmul_attention = matmul_attention
        for t in range(dec_in.shape[1]):
            logits, hidden = static.step(dec_in[:, t], t)
            assert torch.allclose(logits, out.logits[:, t], atol=1e-4, rtol=1e-4)
            assert torch.allclose(hidden, out.decoder_hidden_states[-1][:, t], atol=1e-5, rtol=1e-4)


def test_bf16_static_decoding_on_cpu_attends_in_fp32(built, batch):
    """A bf16 compressor on CPU keeps its attention caches in fp32 and its logits stay as close to the fp32
    model's as those of bf16 SDPA."""
    import copy

    from summae.fast.static_cache import StaticDecoder

    model, _, vocab = built
    doc, target = batch
    comp_ids, comp_mask = compressor_inputs(model, doc, target)
    summary = model.write_summary(comp_ids, comp_mask, target)
    dec_in = shift_right(summary, vocab.start_id, vocab.pad_id)
    half = copy.deepcopy(model)
    half.compressor.to(torch.bfloat16)
    with torch.no_grad():
        reference = model.compressor(encoder_outputs=(model.encode(comp_ids, comp_mask),), attention_mask=comp_mask,
                                     decoder_input_ids=dec_in).logits
        enc = half.encode(comp_ids, comp_mask)
        assert enc.dtype == torch.bfloat16
        errors = {}
        for matmul_attention in (True, False):
            static = StaticDecoder(half.compressor, enc, comp_mask, dec_in.shape[1])
            assert static.matmul_attention
            assert static.cross[0][0].dtype == torch.float32 and static.cross[0][0].is_contiguous()
            static.matmul_attention = matmul_attention
            errors[matmul_attention] = max(
                (static.step(dec_in[:, t], t)[0].float() - reference[:, t]).abs().max().item()
                for t in range(dec_in.shape[1]))
    assert errors[True] < 0.05  # bf16 rounding of the layers' matmuls, not of the attention
    assert errors[True] <= errors[False] * 1.5 + 1e-3


def test_static_cache_decoding_is_not_offered_for_other_architectures():
    from transformers import T5Config, T5ForConditionalGeneration

    from summae.fast.static_cache import supports

    t5 = T5ForConditionalGeneration(T5Config(vocab_size=64, d_model=16, d_kv=8, d_ff=32, num_layers=1, num_heads=2))
    assert not supports(t5)


# ---------------------------------------------------------------- whole words (summary.whole_words)


@pytest.mark.parametrize("temperature", [0.0, 1.0])
def test_copied_words_are_spelled_as_in_the_document(built, batch, temperature):
    """After a piece that occurs in the document, the next token follows it somewhere in the document (or, if it
    ends a word there, begins something new), unless the length rules left no such token."""
    model, _, vocab = built
    assert model.whole_words
    doc, target = batch
    comp_ids, comp_mask = compressor_inputs(model, doc, target)
    summary = model.write_summary(comp_ids, comp_mask, target, temperature=temperature,
                                  generator=torch.Generator().manual_seed(5))
    boundary = model.word_start.clone()
    boundary[vocab.eos_id] = True
    checked = 0
    for b in range(summary.shape[0]):
        d = [t for t in doc[b].tolist() if t != vocab.pad_id]  # the document and its EOS
        row = [t for t in summary[b].tolist() if t != vocab.pad_id]
        for prev, nxt in zip(row, row[1:]):
            followers = {d[j + 1] for j in range(len(d) - 1) if d[j] == prev}
            if not followers:
                continue  # prev is not a document piece: nothing to spell
            ends_word = any(boundary[f] for f in followers)
            ok = nxt in followers or (ends_word and bool(boundary[nxt]))
            forced_end = nxt == vocab.eos_id  # the last position or the word target can force EOS
            assert ok or forced_end, (b, prev, nxt, followers)
            checked += 1
    assert checked > 0 or model.copy_head is None  # an untrained model without copying may never copy


def test_forward_masks_the_written_summary_with_the_spelling_rule_too(built, batch):
    """The straight-through softmax of training uses the rules the summary was written under: every written
    token keeps a non-zero probability."""
    model, _, vocab = built
    doc, target = batch
    comp_ids, comp_mask = compressor_inputs(model, doc, target)
    summary = model.write_summary(comp_ids, comp_mask, target, temperature=1.0,
                                  generator=torch.Generator().manual_seed(2))
    labels = doc.clone()
    with torch.no_grad():
        out = model("autoencode", comp_ids=comp_ids, comp_mask=comp_mask, doc_labels=labels, summary_ids=summary,
                    target=target)
    assert torch.isfinite(out.losses["rec"])
    assert out.summary_one_hot.shape[:2] == summary.shape


@pytest.mark.parametrize("temperature", [0.0, 1.0])
def test_sync_free_decoding_writes_the_same_summaries(built, batch, temperature):
    """write_summary(sync_free=True), what summae.fast.cuda_graphs captures: all steps, no host reads, same ids."""
    model, _, _ = built
    doc, target = batch
    comp_ids, comp_mask = compressor_inputs(model, doc, target)
    written = [model.write_summary(comp_ids, comp_mask, target, temperature=temperature, sync_free=sync_free,
                                   generator=torch.Generator().manual_seed(3)) for sync_free in (False, True)]
    assert torch.equal(written[0], written[1])


def test_padded_width_rounds_up_within_the_limit():
    from summae.fast.cuda_graphs import WIDTH_STEP as step, padded_width

    limit = 6 * step
    widths = (1, step, step + 1, limit - step + 1, limit - 1, limit)
    assert [padded_width(w, limit) for w in widths] == [step, step, 2 * step, limit, limit, limit]
    assert padded_width(step + 1, step + 3) == step + 3  # capped at a limit that is no multiple of the step
    assert padded_width(limit + 2, limit) == limit + 2  # never below the batch's own width


def _fake_capture(writer, captured):
    """GraphedWriter._capture without CUDA: the 'graph' reruns the captured call on the static inputs."""
    class FakeGraph:
        def __init__(self, inputs, out):
            self.inputs, self.out = inputs, out

        def replay(self):
            self.out.copy_(writer._write(*self.inputs, self.temperature))

    def capture(args, temperature=0.0):
        inputs = [x.clone() for x in args]
        out = writer._write(*inputs, temperature)
        captured.append(tuple(tuple(x.shape) for x in args))
        graph = FakeGraph(inputs, out)
        graph.temperature = temperature
        return graph, inputs, out

    return capture


def _writer_inputs(built, batch):
    """A GraphedWriter on the built model, its inputs (enc, comp_ids, comp_mask, target) and write_summary's ids."""
    from summae.fast.cuda_graphs import GraphedWriter

    model, _, _ = built
    doc, target = batch
    comp_ids, comp_mask = compressor_inputs(model, doc, target)
    with torch.no_grad():
        enc = model.encode(comp_ids, comp_mask)
    return GraphedWriter(model), (enc, comp_ids, comp_mask, target), model.write_summary(comp_ids, comp_mask, target)


def test_graphed_writer_decodes_a_shape_once_then_captures_and_replays_it(built, batch, monkeypatch):
    writer, args, expected = _writer_inputs(built, batch)
    captured = []
    monkeypatch.setattr(writer, "_capture", _fake_capture(writer, captured))
    assert torch.equal(writer(*args), expected) and not captured  # met once: eager
    for _ in range(2):
        assert torch.equal(writer(*args), expected)
    assert len(captured) == 1  # captured at the second meeting, replayed at the third
    flipped = [x.flip(0) for x in args]  # same shape, other rows: a replay
    assert torch.equal(writer(*flipped), expected.flip(0)) and len(captured) == 1


def test_graphed_writer_turns_graphs_off_when_a_capture_fails(built, batch, monkeypatch):
    writer, args, expected = _writer_inputs(built, batch)

    def failing(_args, _temperature=0.0):
        raise RuntimeError("operation not permitted when stream is capturing")

    monkeypatch.setattr(writer, "_capture", failing)
    for _ in range(3):
        assert torch.equal(writer(*args), expected)
    assert not writer.enabled and not writer.graphs


def _narrow_batch(built, batch, width):
    """The batch cut to `width` document tokens (EOS ends the rows cut short), as a training batch of that width."""
    model, _, vocab = built
    doc, target = batch
    doc = doc[:, :width].clone()
    cut = doc[:, -1] != vocab.pad_id
    doc[cut, -1] = vocab.eos_id
    comp_ids, comp_mask = compressor_inputs(model, doc, target)
    with torch.no_grad():
        enc = model.encode(comp_ids, comp_mask)
    return enc, comp_ids, comp_mask, target


@pytest.mark.parametrize("temperature", [0.0, 0.7])
def test_graphed_writer_pads_training_widths_and_writes_the_same_summaries(built, batch, monkeypatch, temperature):
    """pad_to (training): widths rounded up to WIDTH_STEP with masked padding; greedy and sampled summaries are
    the ones write_summary gives at the batch's own width (the Gumbel noise does not depend on the width)."""
    from summae.fast.cuda_graphs import GraphedWriter

    model, _, _ = built
    args = _narrow_batch(built, batch, 13)  # comp_ids: 14 columns, padded to 16
    writer = GraphedWriter(model, pad_to=model.compressor.config.max_position_embeddings)
    captured = []
    monkeypatch.setattr(writer, "_capture", _fake_capture(writer, captured))
    original = model.write_summary

    def seeded(*a, **k):  # every write draws the same noise (the fake capture writes twice)
        torch.manual_seed(11)
        return original(*a, **k)

    monkeypatch.setattr(model, "write_summary", seeded)
    enc, comp_ids, comp_mask, target = args
    expected = model.write_summary(comp_ids, comp_mask, target, enc=enc, temperature=temperature)
    for _ in range(3):  # eager, capture, replay
        assert torch.equal(writer(*args, temperature), expected)
    assert captured == [((24, 16, enc.shape[2]), (24, 16), (24, 16), (24,))]


def test_graphed_writer_keys_graphs_by_temperature(built, batch, monkeypatch):
    from summae.fast.cuda_graphs import GraphedWriter

    model, _, _ = built
    writer = GraphedWriter(model)
    captured = []
    monkeypatch.setattr(writer, "_capture", _fake_capture(writer, captured))
    args = _writer_inputs(built, batch)[1]
    for temperature in (0.0, 0.0, 0.5, 0.5, 0.0, 0.5):
        writer(*args, temperature)
    assert len(captured) == 2 and len(writer.graphs) == 2
    writer.reset()
    assert not writer.graphs and not writer.seen


def test_graphed_writer_turns_the_autocast_cache_off_inside(built, batch, monkeypatch):
    """Under training's autocast the writer keeps autocast on with its weight-cast cache off (a captured cast
    must read the live weights), and leaves the caller's autocast state as it was."""
    model, _, _ = built
    writer, args, _ = _writer_inputs(built, batch)
    seen = []
    original = model.write_summary

    def spy(*a, **k):
        seen.append((torch.is_autocast_enabled("cpu"), torch.get_autocast_dtype("cpu"),
                     torch.is_autocast_cache_enabled()))
        return original(*a, **k)

    monkeypatch.setattr(model, "write_summary", spy)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        writer(*args)
        assert torch.is_autocast_cache_enabled() and torch.is_autocast_enabled("cpu")
    writer(*args)
    assert seen == [(True, torch.bfloat16, False), (False, torch.get_autocast_dtype("cpu"), False)]


def test_forward_writes_with_the_writer_it_is_given(built, batch):
    """forward(writer=...) samples the training summaries through the writer (the trainer's CUDA graphs), with
    the decoder in eval mode as write_summary runs it, and trains on what it wrote."""
    model, _, _ = built
    doc, target = batch
    comp_ids, comp_mask = compressor_inputs(model, doc, target)
    calls = []

    def writer(enc, ids, mask, tgt, temperature):
        calls.append((enc.requires_grad, model.compressor.get_decoder().training, temperature))
        return model.write_summary(ids, mask, tgt, enc=enc, temperature=0.0)

    model.train()
    try:
        out = model("autoencode", comp_ids=comp_ids, comp_mask=comp_mask, doc_labels=doc, target=target,
                    temperature=0.5, writer=writer)
        assert model.compressor.get_decoder().training  # back to train mode after writing
    finally:
        model.eval()
    assert calls == [(False, False, 0.5)]
    with torch.no_grad():
        greedy = model.write_summary(comp_ids, comp_mask, target)
    assert torch.equal(out.summary_ids, greedy)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA graphs need a GPU")
def test_training_writer_graphs_read_the_live_weights_under_autocast(built, batch):
    """On a GPU: a graph captured under bf16 autocast, replayed after the weights change in place (as the
    optimizer changes them), writes what eager decoding writes with the new weights."""
    import copy

    from summae.fast.cuda_graphs import GraphedWriter

    model = copy.deepcopy(built[0]).cuda().eval()
    doc, target = (x.cuda() for x in batch)
    comp_ids, comp_mask = compressor_inputs(model, doc, target)
    writer = GraphedWriter(model, pad_to=comp_ids.shape[1])

    def both():
        with torch.autocast("cuda", dtype=torch.bfloat16), torch.no_grad():
            enc = model.encode(comp_ids, comp_mask)
            return writer(enc, comp_ids, comp_mask, target), model.write_summary(comp_ids, comp_mask, target, enc=enc)

    for _ in range(3):  # eager, capture, replay
        graphed, eager = both()
        assert torch.equal(graphed, eager)
    assert writer.captures == 1 and writer.enabled
    with torch.no_grad():
        for p in model.compressor.get_decoder().parameters():
            p.mul_(1.5)  # in place, as AdamW's step
    graphed, eager = both()
    assert writer.captures == 1 and torch.equal(graphed, eager)


ODD_TEXTS = SAMPLES + ["", " ", "  two  spaces\tand a tab  ", "</s> <pad> <unk> <len_2> inside text", "<len_1><len_2>",
                       "emoji 🙂 and 中文 and Ελληνικά", "x" * 3000, "line one\nline two", "UPPER lower MiXeD 123,456.78"]


def test_encode_texts_reads_the_rust_tokenizer_with_the_ids_of_the_call(tokenizer, docs):
    """encode_texts takes the ids from the Rust tokenizer directly; they are tokenizer(...)'s, cut alike."""
    from summae.tokenization import rust_tokenizer

    assert rust_tokenizer(tokenizer) is not None
    texts = docs[:200] + ODD_TEXTS
    for limit in (5, 48, 10_000):
        ids, cut = encode_texts(tokenizer, texts, limit)
        clipped = [t[: limit * 16] for t in texts]  # CHARS_PER_TOKEN_BOUND
        called = tokenizer(clipped, add_special_tokens=False)["input_ids"]
        assert ids == [x[:limit] for x in called]
        assert cut == sum(len(x) > limit for x in called)


def test_decode_texts_equals_batch_decode(tokenizer):
    from summae.tokenization import decode_texts

    gen = torch.Generator().manual_seed(0)
    ids = torch.randint(0, len(tokenizer), (300, 14), generator=gen).tolist() + [[], [0, 1, 2], [1] * 5]
    assert decode_texts(tokenizer, ids) == tokenizer.batch_decode(ids, skip_special_tokens=True)
    square = torch.tensor(ids[:300])  # a (B, T) tensor and a list of rows, as batch_decode takes them too
    assert (decode_texts(tokenizer, square) == decode_texts(tokenizer, list(square))
            == decode_texts(tokenizer, ids[:300]))


def test_tokenizers_without_a_plain_rust_path_use_the_call(tokenizer, docs):
    """No Rust tokenizer (a slow tokenizer), or one whose saved settings truncate, pad or clean up spaces:
    encode_texts and decode_texts go through transformers, with the same results as before."""
    import copy

    from summae.tokenization import decode_texts, rust_tokenizer

    class Slow:  # what encode_texts needs of a Python tokenizer: the call and batch_decode
        def __init__(self, inner):
            self.inner = inner

        def __call__(self, texts, **kwargs):
            return self.inner(texts, **kwargs)

        def batch_decode(self, ids, **kwargs):
            return self.inner.batch_decode(ids, **kwargs)

    texts = docs[:50] + ODD_TEXTS
    expected = encode_texts(tokenizer, texts, 48)
    assert rust_tokenizer(Slow(tokenizer)) is None and encode_texts(Slow(tokenizer), texts, 48) == expected
    truncating = copy.deepcopy(tokenizer)
    truncating.backend_tokenizer.enable_truncation(3)
    assert rust_tokenizer(truncating) is None and encode_texts(truncating, texts, 48) == expected
    cleaning = copy.deepcopy(tokenizer)
    cleaning.clean_up_tokenization_spaces = True
    ids = [x[:12] for x in expected[0]]
    assert decode_texts(cleaning, ids) == cleaning.batch_decode(ids, skip_special_tokens=True)
