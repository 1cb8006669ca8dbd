"""benchmarks/own_corpus.py on the shared tiny run: every row of the table, the run's settings, the result file."""

from __future__ import annotations

import json

import pytest
from conftest import REPO, load_script


@pytest.fixture(scope="module")
def own_corpus():
    return load_script("benchmarks/own_corpus.py")


def test_scores_a_run_on_its_own_test_pairs(own_corpus, tiny_run, tmp_path, capsys):
    rows = [json.loads(line) for line in
            (REPO / "summae" / "data" / "debian" / "test.jsonl").read_text(encoding="utf-8").splitlines()[:12]]
    test = tmp_path / "test.jsonl"
    test.write_text("".join(json.dumps({"body": r["document"], "title": r["summary"]}) + "\n" for r in rows),
                    encoding="utf-8")
    out = tmp_path / "result.json"
    code = own_corpus.main(["--run", str(tiny_run["dir"]), "--test", str(test), "--text-field", "body",
                            "--summary-field", "title", "--name", "tiny", "--out", str(out)])
    assert code == 0
    result = json.loads(out.read_text(encoding="utf-8"))
    # tiny.yaml: summary.default_words 4, so Lead-4 and Lead-8; the search rebuilt from its bundled data files
    assert list(result["table"]) == ["summae", "lead4", "lead8", "lead1sent", "prefix75", "teacher"]
    for scores in result["table"].values():
        assert set(scores) == {"rouge1", "rouge2", "rougeL", "words"} and 0 <= scores["rouge1"] <= 100
    assert result["table"]["lead4"]["words"] <= 4 and result["table"]["teacher"]["words"] <= 4
    assert result["benchmark"] == "own_corpus" and result["name"] == "tiny" and result["documents"] == 12
    assert result["hardware"].startswith("cpu") and result["command"][0] == "benchmarks/own_corpus.py"
    settings = result["settings"]
    assert settings["model"]["d_model"] == 32 and settings["model"]["max_source_tokens"] == 24
    assert settings["summary"]["default_words"] == 4 and settings["steps"] == 6
    assert {"extract_alpha", "extract_beta"} <= set(settings["train"]) and settings["train_seconds"] >= 0
    shown = capsys.readouterr().out
    assert "teacher" in shown and "lead1sent" in shown


def test_missing_field_fails_cleanly(own_corpus, tiny_run, tmp_path, capsys):
    test = tmp_path / "test.jsonl"
    test.write_text(json.dumps({"body": "a document with words"}) + "\n", encoding="utf-8")
    code = own_corpus.main(["--run", str(tiny_run["dir"]), "--test", str(test), "--name", "tiny",
                            "--out", str(tmp_path / "r.json"), "--no-teacher"])
    assert code == 2 and "error:" in capsys.readouterr().err
    assert not (tmp_path / "r.json").exists()
