"""scripts/quality_report.py: docs/quality.md from the committed Gigaword JSONs, with the bottleneck's triples."""

import copy
import json

from conftest import REPO, load_script

RUN = REPO / "benchmarks" / "results" / "gigaword-20261206-cpu2-cpu-nod-copy-long.json"


def test_the_report_shows_document_summary_reconstruction_triples_of_the_best_run():
    report = load_script("scripts/quality_report.py")
    result = json.loads(RUN.read_text(encoding="utf-8"))
    weaker = copy.deepcopy(result)
    weaker["run"], weaker["dev"]["rouge1"] = "weaker", result["dev"]["rouge1"] - 1
    weaker["autoencoder"]["triples"] = [{"document": "d", "summary": "s", "reconstruction": "WEAKER-REBUILD"}]
    text = report.build([weaker, result])
    assert f"## Document, summary, reconstruction: 10 dev documents, run {result['run']}" in text
    for row in result["autoencoder"]["triples"]:
        assert f"  - **reconstruction**: {row['reconstruction']}" in text
    assert "WEAKER-REBUILD" not in text  # the best run's triples, not the last one's


def test_runs_without_an_autoencoder_report_give_no_triples_section():
    report = load_script("scripts/quality_report.py")
    result = json.loads(RUN.read_text(encoding="utf-8"))
    del result["autoencoder"]
    assert "reconstruction**" not in report.build([result])
