"""summae.train.criterion: the reference-free choice of the search's weights by description length."""

import torch

from conftest import tiny_model


def _setup():
    from summae.train.pseudo import Extractor

    cfg, tok, model, doc, target, _, _ = tiny_model([], n_docs=24)
    vocab = model.vocab
    ex = Extractor(doc, doc, word_start=vocab.word_start, pad_id=vocab.pad_id, eos_id=vocab.eos_id, alpha=1.0,
                   beta=0.1)
    return cfg, tok, model, doc, ex


def test_the_judge_learns_to_rebuild_documents_from_extractions():
    from summae.model.build import build_models
    from summae.train.criterion import extractions_at, fit_judge, judge_config

    cfg, tok, _, doc, ex = _setup()
    torch.manual_seed(0)
    judge, _, _ = build_models(judge_config(cfg), tok)
    assert judge.rec_copy_head is not None  # the judge reads the summary through its copy head
    summaries = extractions_at(ex, doc, torch.full((len(doc),), 4), [(1.0, 0.1)],
                               cfg.model.max_summary_tokens)[0]  # (N, S)
    before = [p.detach().clone() for p in judge.compressor.parameters()]
    curve = fit_judge(judge, summaries, doc, steps=30, batch_size=8, lr=3e-3, seed=0)
    assert curve[-1] < curve[0]  # the reconstruction loss falls
    assert all(torch.equal(a, b) for a, b in zip(before, judge.compressor.parameters()))  # only the reconstructor


def test_description_length_adds_the_summary_code_and_the_document_code():
    from summae.train.criterion import description_nats, extractions_at

    cfg, _, model, doc, ex = _setup()
    summaries = extractions_at(ex, doc, torch.full((len(doc),), 4), [(1.0, 0.1)],
                               cfg.model.max_summary_tokens)[0]
    summary, document = description_nats(model, ex, summaries, doc, model.vocab.pad_id)
    wid, ok = ex.word_ids(summaries)
    logp, _ = ex.lm.text_log_prob(wid, ok)
    assert abs(summary - float(-logp.mean())) < 1e-4 and summary > 0
    tokens = (doc != model.vocab.pad_id).sum(1).float()
    assert abs(document - float((model.reconstruction_nll(summaries, doc) * tokens).mean())) < 1e-3


def test_choose_teacher_scores_every_setting_and_picks_the_shortest():
    from summae.train.criterion import choose_teacher

    cfg, tok, _, doc, ex = _setup()
    grid = [(0.0, 0.0), (1.0, 0.1), (3.0, 0.0)]
    choice = choose_teacher(cfg, tok, ex, doc, grid, words=4, fit_docs=16, score_docs=8, steps=4, batch_size=8,
                            echo=lambda *_: None)
    assert [(r["alpha"], r["beta"]) for r in choice.table] == grid
    best = min(choice.table, key=lambda r: r["description_nats"])
    assert (choice.alpha, choice.beta) == (best["alpha"], best["beta"])
    for row in choice.table:
        assert abs(row["description_nats"] - row["summary_nats"] - row["document_nats"]) < 2e-3


def test_description_per_document_is_the_same_whatever_the_padding_and_order():
    """The documents are scored in chunks of like length, each cut to its longest row: extra pad columns and the
    order of the documents change no document's nats, and each comes back in its own row."""
    import torch.nn.functional as F

    from summae.train.criterion import description_per_document, extractions_at

    cfg, _, model, doc, ex = _setup()
    model.eval()
    pad = model.vocab.pad_id
    summaries = extractions_at(ex, doc, torch.full((len(doc),), 4), [(1.0, 0.1)],
                               cfg.model.max_summary_tokens)[0]
    _, document = description_per_document(model, ex, summaries, doc, pad)
    wide = F.pad(doc, (0, 40), value=pad)  # 40 more columns of padding
    _, document_wide = description_per_document(model, ex, summaries, wide, pad)
    assert torch.allclose(document, document_wide, atol=1e-3)
    flip = torch.arange(len(doc) - 1, -1, -1)
    _, document_flipped = description_per_document(model, ex, summaries[flip], doc[flip], pad)
    assert torch.allclose(document[flip], document_flipped, atol=1e-3)
    one = [float(description_per_document(model, ex, summaries[i:i + 1], doc[i:i + 1], pad)[1]) for i in range(3)]
    assert torch.allclose(document[:3], torch.tensor(one), atol=1e-3)  # as if scored alone
