"""Settings read off the data (summae.train.auto): summary lengths from the real texts, source length from the
documents, resolved before the model is built and saved in the run's config."""

import dataclasses
import math
import re

import pytest

from summae.config import Config, load_config
from summae.errors import SummaeError
from summae.train import auto


def test_quantile_nearest_rank():
    values = list(range(1, 101))  # 1..100
    assert auto.quantile(values, 0.5) == 50
    assert auto.quantile(values, 0.99) == 99
    assert auto.quantile(values, 1.0) == 100
    assert auto.quantile([7], 0.05) == 7


def test_summary_lengths_from_real_texts():
    # 100 texts: lengths 4 (x50) and 8 (x50): mean 6, sd 2 -> default 8; 5th pct 4, 99th pct 8
    texts = ["w " * 4] * 50 + ["w " * 8] * 50
    assert auto.summary_lengths(texts) == {"min_words": 4, "max_words": 8, "default_words": 8}
    with pytest.raises(SummaeError, match="real short texts"):
        auto.summary_lengths(["", "  "])


def test_source_tokens_rule():
    assert auto.source_tokens([10] * 1000) == 32  # at least 32
    assert auto.source_tokens([100] * 999 + [5000]) == 128  # 101 with EOS -> 128; one outlier ignored
    assert auto.source_tokens([3000] * 10) == auto.AUTO_SOURCE_CAP
    with pytest.raises(SummaeError):
        auto.source_tokens([])


def test_zero_means_from_the_data_in_validation():
    cfg = load_config("tiny", ["model.max_source_tokens=0", "summary.min_words=0", "summary.max_words=0",
                               "summary.default_words=0"])
    assert cfg.model.max_source_tokens == 0 and cfg.summary.default_words == 0
    with pytest.raises(SummaeError, match="model.max_source_tokens must be >= 8"):
        load_config("tiny", ["model.max_source_tokens=5"])


def test_resolve_summary_lengths_keeps_configured_values():
    cfg = load_config("tiny", ["summary.default_words=0"])  # min 2, max 6 configured
    said = []
    out = auto.resolve_summary_lengths(cfg, ["w " * 4] * 50 + ["w " * 8] * 50, echo=said.append)
    assert (out.summary.min_words, out.summary.max_words, out.summary.default_words) == (2, 6, 6)  # capped at max
    assert "summary.default_words 6" in said[0]
    assert auto.resolve_summary_lengths(load_config("tiny"), None) == load_config("tiny")  # nothing to resolve
    with pytest.raises(SummaeError, match="data.real_files"):
        auto.resolve_summary_lengths(cfg, None)


def test_summary_tokens_hold_words_copied_from_the_documents():
    # 100 documents of 10 words: 99 at 1 token per word, one at 3; the 99th percentile is 1 token per word
    texts = ["w " * 10] * 100
    ids = [[5] * 10] * 99 + [[5] * 30]
    assert auto.copied_tokens(ids, texts, 12) == 12
    ids = [[5] * 25] * 100  # 2.5 tokens per word: 12 copied words take 30 tokens
    assert auto.copied_tokens(ids, texts, 12) == 30
    assert auto.copied_tokens([[]], [""], 12) == 12  # no words to measure: a token per word


def test_summary_tokens_are_raised_for_words_that_split_into_many_pieces(tiny_run):
    from summae.model.build import load_for_inference
    from summae.tokenization import encode_texts

    cfg, tokenizer, _ = load_for_inference(tiny_run["dir"] / "best")
    docs = ["qzxv kwpj zzqx vvkw xjqz pqzk wvxj " * 3] * 50  # rare strings: several pieces per word
    per_word = len(encode_texts(tokenizer, docs[:1], 4096)[0][0]) / len(docs[0].split())
    assert per_word > 1.5
    summary = dataclasses.replace(cfg.summary, min_words=2, max_words=12, default_words=8)
    cfg = dataclasses.replace(cfg, summary=summary, model=dataclasses.replace(cfg.model, max_summary_tokens=13))
    said = []
    out = auto.resolve_token_lengths(cfg, tokenizer, docs, ["a b", "c d e"], summary_auto=True, echo=said.append)
    assert out.model.max_summary_tokens == math.ceil(12 * per_word) + 1
    assert "copied from the documents" in said[-1]


def test_training_resolves_and_saves_the_chosen_lengths(cli, tmp_path):
    run = tmp_path / "run"
    code, _, err = cli("train", "--config", "tiny", "--output-dir", run, "--quiet", "--set", "train.steps=2",
                       "--set", "train.pretrain_steps=1", "--set", "model.max_source_tokens=0",
                       "--set", "summary.default_words=0", "--set", "summary.max_words=0",
                       "--set", "summary.min_words=0")
    assert code == 0, err
    saved = Config.from_yaml(run / "config.yaml")
    m, s = saved.model, saved.summary
    assert m.max_source_tokens % 32 == 0 and 32 <= m.max_source_tokens <= auto.AUTO_SOURCE_CAP
    assert 1 <= s.min_words <= s.default_words <= s.max_words < m.max_summary_tokens
    assert f"model.max_source_tokens {m.max_source_tokens} from the documents' lengths" in err
    assert "summary lengths from the real texts" in err
    # the model was built for the chosen lengths: it summarizes with them
    docs = tmp_path / "docs.txt"
    docs.write_text("the quick brown fox jumps over the lazy dog near the river bank today\n", encoding="utf-8")
    code, out, err = cli("summarize", "--model", run / "best", "--input", docs, "--device", "cpu")
    assert code == 0, err
    assert 1 <= len(out.split()) <= s.max_words


def test_model_size_rule():
    assert auto.model_size(5000, 30.0, on_gpu=False)[0] == "small"  # a small corpus
    assert auto.model_size(200_000, 30.0, on_gpu=False)[0] == "small"  # a CPU and half an hour
    assert auto.model_size(200_000, 5.0, on_gpu=True)[0] == "base"
    assert auto.model_size(200_000, 1.0, on_gpu=True)[0] == "small"  # too little GPU time
    cfg = load_config("auto", ['data.train_files=["x.txt"]', 'data.real_files=["y.txt"]'])
    said = []
    out = auto.resolve_model_size(cfg, 8000, on_gpu=False, echo=said.append)
    assert (out.model.d_model, out.model.encoder_layers, out.train.batch_size) == (128, 2, 32)
    assert said[0].startswith("model size small (d_model 128, 2+2 layers, batch 32): fewer than")
    kept = auto.resolve_model_size(load_config("tiny"), 8000, on_gpu=False)
    assert kept.model.d_model == 32 and kept.train.batch_size == 8  # sizes given: nothing chosen


def test_teacher_search_sets_the_weights_it_chose(cli, tmp_path, monkeypatch):
    from summae.train import criterion

    monkeypatch.setattr(criterion, "SEARCH_GRID", [(0.5, 0.0), (2.0, 0.3)])
    monkeypatch.setattr(criterion, "SEARCH_FIT_DOCS", 40)
    monkeypatch.setattr(criterion, "SEARCH_SCORE_DOCS", 20)
    monkeypatch.setattr(criterion, "SEARCH_STEPS", 3)
    monkeypatch.setattr(criterion, "JUDGE", {**criterion.JUDGE, "d_model": 16, "ffn_dim": 32, "heads": 2,
                                             "encoder_layers": 1, "decoder_layers": 1})
    run = tmp_path / "run"
    code, _, err = cli("train", "--config", "tiny", "--output-dir", run, "--quiet", "--set", "train.steps=1",
                       "--set", "train.pseudo=extract", "--set", "train.teacher_search=true")
    assert code == 0, err
    saved = Config.from_yaml(run / "config.yaml").train
    line = next(x for x in err.splitlines() if "no references read" in x)
    assert f"train.extract_alpha {saved.extract_alpha}, train.extract_beta {saved.extract_beta}" in line
    assert (saved.extract_alpha, saved.extract_beta) in [(0.5, 0.0), (2.0, 0.3)]


def test_span_bonus_search_writes_the_bonus_it_chose_into_every_config(cli, tmp_path, monkeypatch):
    from summae.train import dev_eval

    monkeypatch.setattr(dev_eval, "SPAN_BONUS_GRID", (0.0, 20.0))
    run = tmp_path / "run"
    code, _, err = cli("train", "--config", "tiny", "--output-dir", run, "--quiet", "--set", "train.steps=2",
                       "--set", "train.pseudo=extract", "--set", "train.span_bonus_search=true")
    assert code == 0, err
    line = next(x for x in err.splitlines() if "train.span_bonus_search" in x)
    table = dict(re.findall(r"(\d+(?:\.\d+)?): (\d+(?:\.\d+)?)", line.split("no references;")[1]))
    assert set(table) == {"0", "20"}  # both candidates scored by teacher agreement
    chosen = max(table, key=lambda b: (float(table[b]), -float(b)))
    assert line.startswith(f"summary.span_bonus {chosen} ")
    before = load_config("tiny", ["train.steps=2", "train.pseudo=extract", "train.span_bonus_search=true"])
    for directory in (run, run / "best", run / "last"):
        saved = Config.from_yaml(directory / "config.yaml")
        assert saved.summary.span_bonus == float(chosen)
        assert saved.train.span_bonus_search and saved.model == Config.from_yaml(run / "config.yaml").model
    assert before.summary.span_bonus == 0.0


def test_span_bonus_search_leaves_the_model_as_it_found_it():
    from conftest import tiny_model

    from summae.train.dev_eval import DevSet, choose_span_bonus

    cfg, tokenizer, model, *_ = tiny_model([])
    texts = ["the cat sat on the mat near the door", "a dog ran in the park with a ball"]
    dev = DevSet.build(texts, None, tokenizer, model.vocab, cfg)
    with pytest.raises(ValueError, match="extraction search"):
        choose_span_bonus(model, dev)
    dev.teacher = ["cat sat on the mat", "dog ran in the park"]
    model.rules.span_bonus = 0.3
    bonus, rows = choose_span_bonus(model, dev, grid=(0.0, 1.0, 1.0))
    assert [row["span_bonus"] for row in rows] == [0.0, 1.0, 1.0]
    top = max(row["teacher_r1"] for row in rows)
    assert bonus == min(row["span_bonus"] for row in rows if row["teacher_r1"] == top)  # a tie: the smaller
    assert model.rules.span_bonus == 0.3


def test_dev_evaluation_is_the_same_whatever_the_padding_and_batch_size(monkeypatch):
    """evaluate_dev reads the documents in batches of like length (longest first), each cut to its longest row and
    sized by EVAL_SCORES: extra pad columns and one-document batches change neither the summaries nor the scores."""
    import torch
    import torch.nn.functional as F
    from conftest import tiny_model

    from summae.train import dev_eval

    cfg, tokenizer, model, *_ = tiny_model([])
    model.eval()
    texts = ["the cat sat on the mat near the door", "a dog ran", "the park with a ball and a cat and a dog ran far",
             "a cat"]
    dev = dev_eval.DevSet.build(texts, None, tokenizer, model.vocab, cfg)
    pad = model.vocab.pad_id
    lengths = (dev.ids != pad).sum(1)
    chunks = dev_eval.eval_chunks(dev.ids, pad, 100)
    assert sorted(torch.cat(chunks).tolist()) == [0, 1, 2, 3]
    assert lengths[torch.cat(chunks)].tolist() == sorted(lengths.tolist(), reverse=True)
    before = dev_eval.evaluate_dev(model, None, dev)
    summaries, _ = dev_eval.summarize_ids(model, dev.ids, dev.words, dev.max_words)
    dev.ids = F.pad(dev.ids, (0, 30), value=pad)
    monkeypatch.setattr(dev_eval, "EVAL_SCORES", 1)  # one document per batch
    assert [len(c) for c in dev_eval.eval_chunks(dev.ids, pad, 100)] == [1, 1, 1, 1]
    after = dev_eval.evaluate_dev(model, None, dev)
    assert torch.equal(dev_eval.summarize_ids(model, dev.ids, dev.words, dev.max_words)[0], summaries)
    assert abs(after["rec_nll"] - before["rec_nll"]) < 1e-3
    assert after["score"] == pytest.approx(before["score"], abs=1e-3)
    one = [float(model.reconstruction_nll(summaries[i:i + 1], dev.ids[i:i + 1, : int(lengths[i])])) for i in range(4)]
    assert before["rec_nll"] == pytest.approx(sum(one) / 4, abs=1e-3)  # the mean over documents, each scored alone
