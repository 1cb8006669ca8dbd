"""benchmarks/ablations.py: arms of gigaword.py results over seeds, their mean and range, the recipe's lead."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import load_script


@pytest.fixture(scope="module")
def ablations():
    return load_script("benchmarks/ablations.py")


def result(tmp_path: Path, name: str, seed: int, r1: float, last_r1: float, best_step: int,
           nll: float) -> str:
    scores = {"rouge1": r1, "rouge2": 10.0, "rougeL": 30.0, "words": 10.0}
    data = {"benchmark": "gigaword", "seed": seed, "commit": "abc", "hardware": "cpu2", "steps": 600,
            "best_step": best_step, "train_seconds": 100.0, "discriminator": True, "eval_documents": {"dev": 40},
            "config": {"train": {"pretrain_steps": 300, "eval_every": 100},
                       "model": {"d_model": 64, "encoder_layers": 1, "decoder_layers": 1}},
            "dev": scores, "dev_last": {**scores, "rouge1": last_r1}, "duc2003": {**scores, "rouge1": 20.0},
            "teacher": {"dev": {**scores, "rouge1": 35.0}, "duc2003": {**scores, "rouge1": 24.0}},
            "readability": {"dev": {"summae": {"lm_ppl": 400.0}}},
            "autoencoder": {"reconstruction_nll": nll, "reconstruction_rouge1": 50.0, "summary_rouge1": 52.0,
                            "padded_summary_rouge1": 53.0, "word_order": 0.99}}
    path = tmp_path / name
    path.write_text(json.dumps(data), encoding="utf-8")
    return str(path)


def test_mean_range_and_the_recipe_against_each_arm_seed_by_seed(ablations, tmp_path, capsys):
    recipe = [result(tmp_path, f"full{s}.json", s, 34.0 + s, 34.5 + s, 400 if s else 300, 3.0 + s)
              for s in (0, 1)]
    distill = [result(tmp_path, f"distill{s}.json", s, 33.0 + 2 * s, 34.0, 500, 3.5) for s in (0, 1, 2)]
    out = tmp_path / "ablations.json"
    assert ablations.main(["--name", "t", "--out", str(out), "--arm", "recipe=" + ",".join(recipe),
                           "--arm", "distill-only=" + ",".join(distill)]) == 0
    arms = json.loads(out.read_text(encoding="utf-8"))["arms"]
    full = arms["recipe"]["summary"]
    assert full["dev"]["rouge1"] == {"mean": 34.5, "min": 34.0, "max": 35.0, "n": 2}
    assert full["dev_last"]["rouge1"]["mean"] == 35.0 and full["reconstruction_nll"]["mean"] == 3.5
    # best/ counts as an auto-encoding checkpoint from pretrain_steps + eval_every (400) on
    assert full["best_after_pretraining"] == 1
    assert arms["distill-only"]["summary"]["best_after_pretraining"] == 3
    diff = json.loads(out.read_text(encoding="utf-8"))["differences"][0]
    assert (diff["arm"], diff["minus"]) == ("recipe", "distill-only")
    assert diff["seeds"] == [0, 1]  # seed 2 ran in one arm only: not compared
    assert diff["dev"]["rouge1"] == {"mean": 0.5, "min": 0.0, "max": 1.0, "n": 2}  # (34 - 33, 35 - 35)
    assert diff["dev_last"]["rouge1"]["mean"] == 1.0  # (34.5 - 34, 35.5 - 34)
    table = capsys.readouterr().out
    assert "| recipe | 0,1 | 34.50 / 10.00 / 30.00" in table and "| distill-only | 0,1,2 |" in table


@pytest.mark.parametrize("arm, message", [
    ("recipe", "expected NAME=FILE.json"),
    ("recipe=missing.json", "missing.json: no such file"),
])
def test_bad_arms_fail_with_one_line(ablations, arm, message, capsys):
    assert ablations.main(["--name", "t", "--arm", arm]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_a_file_that_is_not_a_gigaword_result_or_a_seed_given_twice(ablations, tmp_path, capsys):
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"benchmark": "throughput"}), encoding="utf-8")
    assert ablations.main(["--name", "t", "--arm", f"a={other}"]) == 2
    assert "is not a benchmarks/gigaword.py result" in capsys.readouterr().err
    twice = result(tmp_path, "x.json", 0, 34.0, 34.0, 300, 3.0)
    assert ablations.main(["--name", "t", "--arm", f"a={twice},{twice}"]) == 2
    assert "two runs with the same seed" in capsys.readouterr().err
    assert ablations.main(["--name", "t", "--arm", f"a={twice}", "--compare", "a,b"]) == 2
    assert "--compare 'a,b': expected two arm names, from a" in capsys.readouterr().err
