"""Long documents: 1,024-token inputs and 40-word summaries train and summarize; the reconstructor's window rule
(model.rec_target_tokens); the extraction search and the batches at that scale; one-line errors for lengths a
config or a model cannot hold."""

from __future__ import annotations

import json
import re
import shutil

import pytest
import torch
import yaml

from conftest import REPO, shown_lines, tiny_model
from summae.config import load_config
from summae.errors import SummaeError
from summae.model.losses import token_nll

N = 8  # the window of the tests' reconstructor, in tokens (tiny.yaml reads 24)


def bundled(n: int) -> list[str]:
    with open(REPO / "summae" / "data" / "debian" / "train.jsonl", encoding="utf-8") as handle:
        return [json.loads(line)["document"] for _, line in zip(range(n), handle)]


def long_documents(count: int, per_doc: int = 25) -> list[str]:
    """Documents of per_doc bundled descriptions each: well over 1,024 tokens of the tests' tokenizers."""
    docs = bundled(count * per_doc)
    return [" ".join(docs[i * per_doc: (i + 1) * per_doc]) for i in range(count)]


# ---------------------------------------------------------------- end to end: 1,024 tokens in, 40 words out


def test_train_and_summarize_1024_token_documents_into_40_words(cli, tmp_path):
    train = tmp_path / "long.jsonl"
    train.write_text("".join(json.dumps({"document": d}) + "\n" for d in long_documents(24)), encoding="utf-8")
    run = tmp_path / "run"
    sets = ["tokenizer.vocab_size=1000", "tokenizer.train_sentences=400", "model.max_source_tokens=1024",
            "model.max_summary_tokens=256", "summary.min_words=20", "summary.max_words=40", "summary.ratio_min=0.1",
            "summary.ratio_max=0.2", "train.pseudo=extract", "model.rec_target_tokens=256", "train.steps=3",
            "train.pretrain_steps=1", "train.eval_every=0", "train.save_every=0", "train.sample_every=0"]
    argv = ["train", "--config", "tiny", "--train-files", train, "--output-dir", run, "--quiet"]
    code, _, err = cli(*argv, *[x for item in sets for x in ("--set", item)])
    assert code == 0, err[-2000:]
    assert re.search(r"(\d+) of \1 training documents are longer than model.max_source_tokens \(1024\) and were "
                     r"truncated", err)  # every one is cut, and counted
    assert "pseudo-summaries by extraction" in err  # the search ran on 1,024-token documents
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert any(row.get("summary/words", 0) > 13 for row in rows)  # targets above the old 13-word ceiling

    docs = tmp_path / "docs.txt"
    docs.write_text("\n".join(long_documents(3)) + "\n", encoding="utf-8")
    out = tmp_path / "summaries.txt"
    code, _, err = cli("summarize", "--model", run, "--input", docs, "--output", out, "--words", "40")
    assert code == 0, err[-2000:]
    assert shown_lines(err)[-1] == ("summarized 3 documents, 3 longer than model.max_source_tokens (1024 tokens) "
                                    "were cut to it")
    summaries = out.read_text(encoding="utf-8").splitlines()
    assert [len(s.split()) for s in summaries] == [40, 40, 40]
    code, _, err = cli("summarize", "--model", run, "--input", docs, "--words", "41")
    assert code == 2 and "--words must be between 1 and 40" in err


# ---------------------------------------------------------------- the reconstructor's window


@pytest.fixture(scope="module")
def setup():
    """The tiny model with a window of N tokens (its documents: 24 tokens, EOS included)."""
    return tiny_model([f"model.rec_target_tokens={N}", "train.rec_word_dropout=0"], n_docs=12)


def test_no_window_and_short_documents_are_rebuilt_whole(setup):
    _, _, model, doc, *_ = setup
    try:
        model.rec_target_tokens = 0
        assert model.train().rec_target(doc) is doc and model.eval().rec_target(doc) is doc
        model.rec_target_tokens = doc.shape[1]
        assert model.train().rec_target(doc) is doc  # nothing to cut
    finally:
        model.rec_target_tokens = N
        model.eval()


def test_evaluation_rebuilds_the_first_n_tokens(setup):
    _, _, model, doc, *_ = setup
    assert torch.equal(model.eval().rec_target(doc), doc[:, :N])


def test_training_windows_are_n_tokens_of_the_document_starting_at_a_word(setup):
    _, _, model, doc, *_ = setup
    pad, eos = model.vocab.pad_id, model.vocab.eos_id
    short = doc.clone()
    short[0, N - 3:] = pad  # a document shorter than the window
    short[0, N - 3] = eos
    lengths = (short != pad).sum(1)
    starts = [set() for _ in range(short.shape[0])]
    torch.manual_seed(0)
    model.train()
    try:
        for _ in range(200):
            windows = model.rec_target(short)
            assert windows.shape == (short.shape[0], N)
            for row, (window, document) in enumerate(zip(windows.tolist(), short.tolist())):
                found = [s for s in range(len(document) - N + 1) if document[s: s + N] == window]
                assert found, "a window is N consecutive tokens of its document"
                start = found[0]
                assert start + N <= max(int(lengths[row]), N)  # within the document (or the whole short one)
                assert start == 0 or bool(model.word_start[document[start]])  # it begins a word
                starts[row].add(start)
    finally:
        model.eval()
    assert starts[0] == {0}  # the short document comes whole, with its EOS
    for row in range(1, short.shape[0]):
        first_words = [s for s in range(int(lengths[row]) - N + 1) if s == 0 or model.word_start[short[row, s]]]
        assert starts[row] == set(first_words)  # every word start that leaves N tokens comes up, the last too


def test_the_reconstruction_loss_and_score_cover_the_window_only(setup):
    _, _, model, doc, target, comp_ids, comp_mask = setup
    summary = model.write_summary(comp_ids, comp_mask, target)
    mask = summary != model.vocab.pad_id
    one_hot = torch.nn.functional.one_hot(summary, model.word_start.shape[0]).float() * mask[..., None]
    ids = torch.where(mask, summary, -1)
    with torch.no_grad():
        windowed = model.reconstruction_loss(one_hot, mask, doc, ids)
        first = doc[:, :N]
        assert torch.allclose(windowed, token_nll(model.reconstruct(one_hot, mask, first, ids), first,
                                                  model.vocab.pad_id))
        model.rec_target_tokens = 0
        try:
            whole = model.reconstruction_loss(one_hot, mask, doc, ids)
            assert torch.allclose(model.reconstruction_loss(one_hot, mask, first, ids), windowed)
            first_nll = model.reconstruction_nll(summary, first)
        finally:
            model.rec_target_tokens = N
        assert not torch.allclose(whole, windowed)
        assert torch.allclose(model.reconstruction_nll(summary, doc), first_nll)
    assert model.reconstruct_greedy(summary, max_tokens=doc.shape[1]).shape == (doc.shape[0], N)


def test_training_steps_decode_the_window_only(setup):
    """The reconstructor's decoder reads N tokens in both phases: the saving the window is for."""
    _, _, model, doc, target, comp_ids, comp_mask = setup
    widths = []
    hook = model.reconstructor.get_decoder().register_forward_hook(
        lambda module, args, kwargs, out: widths.append(out.last_hidden_state.shape[1]), with_kwargs=True)
    model.train()
    try:
        pseudo = doc[:, :6].clone()
        pseudo[:, -1] = model.vocab.eos_id
        out = model("pretrain", comp_ids=comp_ids, comp_mask=comp_mask, doc_labels=doc, pseudo_ids=pseudo)
        out.losses["rec"].backward()
        out = model("autoencode", comp_ids=comp_ids, comp_mask=comp_mask, doc_labels=doc, target=target,
                    temperature=1.0)
        out.losses["rec"].backward()
    finally:
        hook.remove()
        model.zero_grad(set_to_none=True)
        model.eval()
    assert widths == [N, N] and torch.isfinite(out.losses["rec"])


# ---------------------------------------------------------------- settings a config or a model cannot hold


@pytest.mark.parametrize("overrides, message", [
    (["model.max_source_tokens=5000"], "model.max_source_tokens must be <= 4096, got 5000"),
    (["model.max_summary_tokens=1000"], "model.max_summary_tokens must be <= 256, got 1000"),
    (["summary.max_words=40"], "summary.max_words (40) needs model.max_summary_tokens >= 41 (a token per word at "
                               "least, and EOS), got 8"),
    (["model.rec_target_tokens=25"], "model.rec_target_tokens must be 0 (the whole document) or in [1, "
                                     "model.max_source_tokens = 24], got 25"),
    (["model.rec_target_tokens=-1"], "model.rec_target_tokens must be 0"),
])
def test_lengths_out_of_range_fail_with_one_line(overrides, message):
    with pytest.raises(SummaeError) as err:
        load_config("tiny", overrides)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_the_long_settings_themselves_are_valid():
    cfg = load_config("tiny", ["model.max_source_tokens=1024", "model.max_summary_tokens=64", "summary.max_words=40",
                               "model.rec_target_tokens=256"])
    assert (cfg.model.max_source_tokens, cfg.summary.max_words, cfg.model.rec_target_tokens) == (1024, 40, 256)
    assert load_config("tiny").model.rec_target_tokens == 0  # off by default: the whole document


def test_a_model_keeps_the_positions_it_was_built_with(cli, tiny_run, tmp_path):
    from summae.model.build import check_positions

    model_dir = tmp_path / "model"
    shutil.copytree(tiny_run["dir"] / "last", model_dir)
    raw = yaml.safe_load((model_dir / "config.yaml").read_text())
    raw["model"]["max_source_tokens"] = 1024  # a 24-token model told to read 1,024 tokens
    (model_dir / "config.yaml").write_text(yaml.safe_dump(raw))
    docs = tmp_path / "docs.txt"
    docs.write_text("a b c\n")
    code, out, err = cli("summarize", "--model", model_dir, "--input", docs)
    assert code == 2 and len(shown_lines(err)) == 1 and "Traceback" not in err
    assert "model.max_source_tokens (1024) is more than the model in" in err and "26 positions hold 25" in err

    class Seq2seq:  # relative positions (T5): no limit to check
        config = type("Config", (), {})()

    check_positions(load_config("tiny", ["model.max_source_tokens=4096"]), Seq2seq(), "a T5")


# ---------------------------------------------------------------- the extraction search and the batches at scale


def test_the_search_over_long_documents_is_chunked_and_gives_the_same_extractions(monkeypatch):
    from summae.train import pseudo

    gen = torch.Generator().manual_seed(0)
    vocab = 60
    word_start = torch.arange(vocab) % 4 != 3  # pieces 3, 7, ... continue a word
    word_start[:2] = False
    real = torch.randint(2, vocab, (200, 12), generator=gen)
    real[:, -1] = 1
    docs = torch.randint(2, vocab, (6, 1024), generator=gen)
    docs[:, -1] = 1
    docs[0, 300:] = 0  # a shorter document
    docs[0, 299] = 1
    kw = dict(word_start=word_start, pad_id=0, eos_id=1, alpha=1.5, beta=0.2)
    monkeypatch.setattr(pseudo, "CORPUS_ROWS", 4)  # the word tables built from chunks of rows
    chunked = pseudo.Extractor(real, docs, **kw)
    monkeypatch.setattr(pseudo, "CORPUS_ROWS", 1024)
    whole = pseudo.Extractor(real, docs, **kw)
    assert torch.equal(chunked.table, whole.table) and torch.equal(chunked.idf, whole.idf)
    target = torch.tensor([40, 40, 25, 40, 1, 40])
    calls = []
    rows = pseudo.Extractor._select_rows
    monkeypatch.setattr(pseudo.Extractor, "_select_rows", lambda self, w, o, t, s: calls.append(w.shape) or
                        rows(self, w, o, t, s))
    monkeypatch.setattr(pseudo, "SEARCH_ELEMENTS", {"cpu": 1 << 30})
    one_pass = whole.targets(docs, target, max_tokens=128)
    monkeypatch.setattr(pseudo, "SEARCH_ELEMENTS", {"cpu": 1 << 20})  # a chunk of one document of 770 words
    assert torch.equal(whole.targets(docs, target, max_tokens=128), one_pass)
    assert len(calls) == 1 + 6 and all(shape[0] * shape[1] ** 2 <= 1 << 20 for shape in calls[1:])
    words = [int(word_start[row[:row.tolist().index(1)]].sum()) for row in one_pass]
    assert words[1:4] == [40, 25, 40] and words[4] == 1


def test_batches_hold_token_ids_in_int32_and_serve_int64():
    from summae.train.batches import TensorBatches

    ids = torch.randint(2, 8000, (40, 1024))
    batches = TensorBatches(ids, 8, seed=0, pad_id=0, bucket=2)
    assert batches.ids.dtype == torch.int32 and torch.equal(batches.ids.long(), ids)
    batch = batches.batch(0)
    assert batch.dtype == torch.int64 and batch.shape == (8, 1024)


def test_graph_widths_of_long_inputs_stay_few_and_their_memory_bounded():
    from summae.fast.cuda_graphs import MAX_GRAPH_TOKENS, GraphedWriter, padded_width

    widths = sorted({padded_width(w, 1025) for w in range(1, 1026)})
    assert len([w for w in widths if 512 < w <= 1024]) == 4  # 4 widths per doubling
    assert all(padded_width(w, 10_000) < 1.25 * w for w in range(65, 5000))
    assert [padded_width(w, 65) for w in (1, 9, 64, 65)] == [8, 16, 64, 65]  # short inputs as before

    writer = GraphedWriter(model=None)

    def key(rows, width):
        return (((rows, width, 8), torch.float), ((rows, width), torch.long)), 0.0, None

    for width in (64, 72, 896, 1025):
        writer.graphs[key(2048, width)] = None
        writer._evict()
    assert list(writer.graphs) == [key(2048, 1025)]  # one graph of 2,048 rows of a long width at a time
    assert 2048 * 1025 <= MAX_GRAPH_TOKENS
    for width in range(8, 8 * 30, 8):
        writer.graphs[key(64, width)] = None
        writer._evict()
    assert len(writer.graphs) == 16  # short widths: MAX_GRAPHS as before
