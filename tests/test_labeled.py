"""The semi-supervised option: a fixed, nested subset of labeled pairs, batches that follow the length rules,
and a trainer that learns the references as its "sup" loss while the unsupervised losses stay apart."""

import json

import pytest
import torch
from conftest import TINY

from summae.config import load_config
from summae.errors import SummaeError
from summae.io import load_pairs
from summae.train.trainer import Trainer


def write_pairs(path, n):
    rows = [{"document": f"document number {i} talks about topic {i % 7} at some length today",
             "summary": f"topic {i % 7} summary {i}"} for i in range(n)]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return rows


def test_subsets_are_nested_and_do_not_depend_on_anything_but_n(tmp_path):
    path = tmp_path / "pairs.jsonl"
    write_pairs(path, 50)
    small_docs, small_sums = load_pairs([str(path)], 10, doc_field="document", summary_field="summary")
    big_docs, big_sums = load_pairs([str(path)], 30, doc_field="document", summary_field="summary")
    assert big_docs[:10] == small_docs and big_sums[:10] == small_sums
    assert small_docs != [f"document number {i}" for i in range(10)]  # shuffled, not the file's first rows
    for doc, summary in zip(big_docs, big_sums):  # pairs stay pairs
        assert doc.split()[2] == summary.split()[-1]


def test_asking_for_more_pairs_than_the_file_holds_fails(tmp_path):
    path = tmp_path / "pairs.jsonl"
    write_pairs(path, 5)
    with pytest.raises(SummaeError, match="holds only 5 pairs"):
        load_pairs([str(path)], 6, doc_field="document", summary_field="summary")


def test_a_record_without_the_summary_field_is_named(tmp_path):
    path = tmp_path / "pairs.jsonl"
    path.write_text(json.dumps({"document": "a document"}) + "\n", encoding="utf-8")
    with pytest.raises(SummaeError, match="'summary'"):
        load_pairs([str(path)], 1, doc_field="document", summary_field="summary")


@pytest.fixture(scope="module")
def semi(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("semi")
    write_pairs(tmp / "pairs.jsonl", 40)
    cfg = load_config(TINY, ["tokenizer.train_sentences=400", "train.sample_every=0", "train.steps=3",
                             "train.pretrain_steps=1", "train.eval_every=0", "train.save_every=0",
                             "train.log_every=1", f"data.labeled_files=[{tmp / 'pairs.jsonl'}]",
                             "data.labeled_pairs=12", "train.labeled_batch_size=4"])
    said = []
    trainer = Trainer(cfg, tmp / "run", echo=said.append, progress=False)
    result = trainer.train()
    rows = [json.loads(line) for line in (tmp / "run" / "metrics.jsonl").read_text().splitlines()]
    return {"trainer": trainer, "result": result, "rows": rows, "said": said}


def test_labeled_batches_hold_references_cut_to_the_length_rules(semi):
    trainer = semi["trainer"]
    docs, refs, words = trainer.labeled.batch(0)
    cfg, vocab = trainer.cfg, trainer.vocab
    assert docs.shape == (4, cfg.model.max_source_tokens)
    assert refs.shape == (4, cfg.model.max_summary_tokens)
    assert int(words.max()) <= cfg.summary.max_words and int(words.min()) >= 1
    assert (refs == vocab.eos_id).sum(1).tolist() == [1, 1, 1, 1]  # each reference ends with one EOS
    ws = vocab.word_start.cpu()
    counted = (ws[refs] & (refs != vocab.pad_id) & (refs != vocab.eos_id)).sum(1)
    assert torch.equal(counted, words)  # the length token says how many words the reference has
    again = trainer.labeled.batch(0)
    assert torch.equal(again[0], docs)  # resumable: a step always gets the same pairs


def test_training_reports_the_supervised_loss_in_both_phases(semi):
    rows = [r for r in semi["rows"] if "loss/sup" in r]
    assert [r["step"] for r in rows] == [1, 2, 3]
    assert all(r["loss/sup"] > 0 for r in rows)
    assert any("12 labeled pairs" in line for line in semi["said"])


def test_sup_rows_split_the_lead_loss_from_the_supervised_loss(semi):
    model = semi["trainer"]._unwrapped()
    model.eval()
    vocab = model.vocab
    docs, refs, words = semi["trainer"].labeled.batch(1)
    mask = docs != vocab.pad_id
    comp_ids, comp_mask = model.compressor_inputs(docs, mask, words)
    both = model("pretrain", comp_ids=comp_ids, comp_mask=comp_mask, doc_labels=docs, pseudo_ids=refs, sup_rows=2)
    first = model("pretrain", comp_ids=comp_ids[:2], comp_mask=comp_mask[:2], doc_labels=docs[:2], pseudo_ids=refs[:2])
    last = model("pretrain", comp_ids=comp_ids[2:], comp_mask=comp_mask[2:], doc_labels=docs[2:], pseudo_ids=refs[2:])
    torch.testing.assert_close(both.losses["lead"], first.losses["lead"])
    torch.testing.assert_close(both.losses["sup"], last.losses["lead"])


def test_labeled_pairs_without_files_is_a_config_error():
    with pytest.raises(SummaeError, match="labeled_files"):
        load_config(TINY, ["data.labeled_pairs=10"])
