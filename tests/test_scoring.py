"""`summae score` and summae.scoring on the tiny run: one score per input line (txt) or a field per record
(jsonl), scores independent of batching, blank documents without a score, bad input as one line.
(Out-of-domain vs in-domain on the shipped model: tests/test_ready_model.py.)"""

import json
import math
import shutil

import pytest
from conftest import REPO, shown_lines

TEST_JSONL = REPO / "summae" / "data" / "debian" / "test.jsonl"


@pytest.fixture(scope="module")
def records():
    with open(TEST_JSONL, encoding="utf-8") as handle:
        return [json.loads(line) for _, line in zip(range(5), handle)]


@pytest.fixture(scope="module")
def scorer(tiny_run):
    from summae.scoring import Scorer

    return Scorer.from_pretrained(tiny_run["dir"], device="cpu")


def test_one_finite_score_per_text_and_none_for_blank(scorer, records):
    texts = [r["document"] for r in records] + ["   "]
    scores = scorer(texts)
    assert len(scores) == len(texts) and scores[-1] is None
    assert all(isinstance(s, float) and math.isfinite(s) and s > 0 for s in scores[:-1])


def test_scores_do_not_depend_on_batching_or_repetition(scorer, records):
    texts = [r["document"] for r in records]
    whole = scorer(texts, batch_size=64)
    assert scorer(texts, batch_size=1) == pytest.approx(whole, abs=2e-4)
    assert scorer(texts, batch_size=64) == whole


def test_score_is_the_reconstruction_loss_of_the_greedy_summary(scorer, records):
    """The definition, computed the long way: greedy summary at default_words, then mean NLL of the document."""
    import torch
    import torch.nn.functional as F

    from summae.tokenization import encode_texts, pad_ids

    model, cfg = scorer.model, scorer.cfg
    ids, _ = encode_texts(scorer.tokenizer, [records[0]["document"]], cfg.model.max_source_tokens - 1)
    doc = pad_ids(ids, eos_id=model.vocab.eos_id, pad_id=model.vocab.pad_id, width=cfg.model.max_source_tokens)
    target = torch.tensor([cfg.summary.default_words])
    comp_ids, comp_mask = model.compressor_inputs(doc, doc != model.vocab.pad_id, target)
    summary = model.write_summary(comp_ids, comp_mask, target)
    with torch.no_grad():
        logits = model.reconstruct(F.one_hot(summary, model.word_start.shape[0]).float()
                                   * (summary != model.vocab.pad_id)[..., None], summary != model.vocab.pad_id, doc)
    keep = doc[0] != model.vocab.pad_id
    expected = F.cross_entropy(logits[0][keep], doc[0][keep]).item()
    assert scorer([records[0]["document"]])[0] == pytest.approx(expected, abs=1e-3)


def test_score_txt_writes_one_float_per_line(cli, tiny_run, records, tmp_path):
    docs = tmp_path / "docs.txt"
    docs.write_text("\n".join([records[0]["document"], "", records[1]["document"]]) + "\n", encoding="utf-8")
    out = tmp_path / "scores.txt"
    code, stdout, err = cli("score", "--model", tiny_run["dir"], "--input", docs, "--output", out)
    assert code == 0, err
    lines = out.read_text().splitlines()
    assert len(lines) == 3 and lines[1] == "nan"
    assert all(float(v) > 0 for v in (lines[0], lines[2]))
    assert "scored 3 documents; mean score" in err


def test_score_jsonl_adds_a_field_and_keeps_the_records(cli, tiny_run, records, tmp_path):
    docs = tmp_path / "docs.jsonl"
    docs.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    code, stdout, err = cli("score", "--model", tiny_run["dir"], "--input", docs, "--quiet")
    assert code == 0, err
    assert shown_lines(err) == []  # --quiet: no progress bar, no summary line
    rows = [json.loads(line) for line in stdout.splitlines()]
    assert [{k: v for k, v in r.items() if k != "score"} for r in rows] == records
    assert all(isinstance(r["score"], float) for r in rows)


def test_score_refuses_to_overwrite_an_existing_field(cli, tiny_run, records, tmp_path):
    docs = tmp_path / "docs.jsonl"
    docs.write_text(json.dumps({**records[0], "score": 1}) + "\n", encoding="utf-8")
    code, _, err = cli("score", "--model", tiny_run["dir"], "--input", docs)
    assert code == 2 and len(shown_lines(err)) == 1 and "--overwrite" in err
    code, stdout, _ = cli("score", "--model", tiny_run["dir"], "--input", docs, "--overwrite", "--quiet")
    assert code == 0 and json.loads(stdout)["score"] != 1


@pytest.mark.parametrize("case, fragment", [
    ("missing-input", "input file not found"),
    ("empty-input", "holds no documents"),
    ("no-reconstructor", "reconstructor"),
    ("not-a-model", "is not a summae model"),
])
def test_score_bad_input_is_one_line(cli, tiny_run, tmp_path, case, fragment):
    docs, model = tmp_path / "docs.txt", tiny_run["dir"]
    docs.write_text("a document\n" if case != "empty-input" else "", encoding="utf-8")
    out = tmp_path / "scores.txt"
    out.write_text("old\n")
    if case == "missing-input":
        docs = tmp_path / "nope.txt"
    elif case == "no-reconstructor":
        model = tmp_path / "model"
        shutil.copytree(tiny_run["dir"] / "best", model)
        shutil.rmtree(model / "reconstructor")
    elif case == "not-a-model":
        model = tmp_path
    code, _, err = cli("score", "--model", model, "--input", docs, "--output", out)
    assert code == 2, err
    assert len(shown_lines(err)) == 1 and fragment in err and "Traceback" not in err
    assert out.read_text() == "old\n"  # nothing already written is touched
