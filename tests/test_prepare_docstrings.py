"""scripts/prepare_docstrings.py: docstring pairs from a fake package tree, filtered, split by package, the same
twice."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import load_script

WORDS = ("river stone meadow lantern harbor orchard falcon copper willow ember glacier thistle quarry beacon "
         "saffron tundra violet marble cedar pebble summit canyon prairie lagoon").split()


@pytest.fixture(scope="module")
def prepare():
    return load_script("scripts/prepare_docstrings.py")


def body(seed: int, n: int = 40) -> str:
    """A prose paragraph of n words, different for each seed, wrapped over lines as a docstring is."""
    words = [WORDS[(seed * 7 + i * (seed % 5 + 1)) % len(WORDS)] for i in range(n)]
    lines = [" ".join(words[i: i + 10]) for i in range(0, n, 10)]
    return f"This {seed} keeps " + "\n    ".join(lines) + "."


def good(name: str, seed: int) -> str:
    return f'''
def {name}():
    """Summarize the {WORDS[seed % len(WORDS)]} records of package {seed}.

    {body(seed)}

    Parameters
    ----------
    x : int
        A parameter that must never reach the body.
    """
'''


CODE_ONLY = '''
def code_only():
    """Return the squares of the given numbers.

    >>> code_only([1, 2, 3])
    [1, 4, 9]

    Args:
        numbers: the numbers to square, each one an integer or a float value for the result.
    """
'''


def fake_tree(root: Path) -> None:
    """Eight packages of two pairs each, plus a code-only docstring, a duplicate body, a syntax error, a pair
    whose summary is repeated in its body, and a tests/ folder that is never read."""
    for p in range(8):
        pkg = root / f"pkg{p}"
        pkg.mkdir(parents=True)
        (pkg / "__init__.py").write_text(f'"""Top of package {p} with its helpers."""\n', encoding="utf-8")
        (pkg / "mod.py").write_text(good("first", 10 * p) + good("second", 10 * p + 1) + CODE_ONLY,
                                    encoding="utf-8")
        (pkg / "tests").mkdir()
        (pkg / "tests" / "helpers.py").write_text(good("never", 900 + p), encoding="utf-8")
    # the same body again in another package: dropped as a duplicate (the first in walk order is kept)
    (root / "zdup").mkdir()  # walked after pkg0/ (a folder's own files come before its subfolders)
    (root / "zdup" / "__init__.py").write_text(good("copy", 0), encoding="utf-8")
    (root / "broken.py").write_text('"""Not valid Python at all."""\ndef (:\n', encoding="utf-8")
    echo = f'"""Build the marble summit index.\n\nWe build the marble summit index here. {body(77)}\n"""\n'
    (root / "echo.py").write_text(echo, encoding="utf-8")


def run(prepare, root: Path, out: Path, *extra: str) -> dict:
    assert prepare.main(["--output", str(out), "--roots", str(root), "--test-size", "4", *extra]) == 0

    def read(name: str) -> list[dict]:
        return [json.loads(line) for line in (out / name).read_text(encoding="utf-8").splitlines()]

    return {"test": read("test.jsonl"), "docs": read("docs.jsonl"), "dev": read("dev.jsonl"),
            "titles": (out / "titles.txt").read_text(encoding="utf-8").splitlines(),
            "manifest": json.loads((out / "manifest.json").read_text(encoding="utf-8"))}


def test_pairs_filters_and_split(prepare, tmp_path):
    root = tmp_path / "root"
    fake_tree(root)
    got = run(prepare, root, tmp_path / "out")
    test, docs, titles, manifest = got["test"], got["docs"], got["titles"], got["manifest"]
    # fields: pairs in test, documents only in docs
    assert test and docs and titles
    assert all(set(r) == {"body", "summary", "source"} for r in test)
    assert all(set(r) == {"body", "source"} for r in docs)
    assert len(test) == 4
    # 8 packages x 2 good pairs; code-only, one-line, tests/, broken, duplicate and echoing docstrings dropped
    counts = manifest["counts"]
    assert counts["pairs"] == 16 and counts["unparsed_files"] == 1 and counts["duplicate_bodies"] == 1
    rows = test + docs
    assert all("never reach" not in r["body"] and ">>>" not in r["body"] for r in rows)
    assert not any(r["source"].startswith(("zdup", "echo", "broken")) or ".tests." in r["source"] for r in rows)
    assert all(30 <= len(r["body"].split()) <= 400 and "\n" not in r["body"] for r in rows)
    assert {r["source"].split(":")[1] for r in rows} <= {"first", "second"}
    # disjoint by package: test, docs and the titles' packages share none
    package = lambda source: source.split(".")[0]  # noqa: E731
    test_pkgs, doc_pkgs = {package(r["source"]) for r in test}, {package(r["source"]) for r in docs}
    title_pkgs = {t.rsplit(" ", 1)[1].rstrip(".") for t in titles}  # "... of package N." -> N
    title_pkgs = {f"pkg{int(n) // 10}" for n in title_pkgs}
    assert not test_pkgs & doc_pkgs and not test_pkgs & title_pkgs and not doc_pkgs & title_pkgs
    assert counts["test"] + counts["docs"] + counts["titles"] <= 16
    assert manifest["words"]["test_reference"]["n"] == 4 and manifest["seed"] == 0
    assert manifest["command"][:2] == ["scripts/prepare_docstrings.py", "--output"]


def test_deterministic_and_capped(prepare, tmp_path):
    root = tmp_path / "root"
    fake_tree(root)
    first, second = run(prepare, root, tmp_path / "a"), run(prepare, root, tmp_path / "b")
    for name in ("test.jsonl", "docs.jsonl", "titles.txt"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert first["manifest"]["counts"] == second["manifest"]["counts"]
    other = run(prepare, root, tmp_path / "c", "--seed", "3")
    assert {r["source"] for r in other["test"]} != {r["source"] for r in first["test"]}
    capped = run(prepare, root, tmp_path / "d", "--max-docs", "2")
    assert len(capped["docs"]) == 2


def test_dev_pairs_are_training_documents_with_their_summary_lines(prepare, tmp_path):
    root = tmp_path / "root"
    fake_tree(root)
    got = run(prepare, root, tmp_path / "out", "--dev-size", "3")
    dev, docs, titles = got["dev"], got["docs"], set(got["titles"])
    assert len(dev) == 3 == got["manifest"]["counts"]["dev"]
    assert all(set(r) == {"body", "summary", "source"} for r in dev)
    assert [{"body": r["body"], "source": r["source"]} for r in dev] == docs[:3]  # the documents training reads
    assert not {r["summary"] for r in dev} & titles  # their summaries are not among the real texts
    test_sources = {r["source"] for r in got["test"]}
    assert not {r["source"] for r in dev} & test_sources
    assert run(prepare, root, tmp_path / "none", "--dev-size", "0")["dev"] == []


def test_make_pair_rules(prepare):
    make = prepare.make_pair
    prose = " ".join(["the record keeps its words in order"] * 5)
    assert make(f"Open the gate.\n\n{prose}") == ("Open the gate.", prose)
    assert make(f"Open it.\n\n{prose}") is None  # a 2-word summary
    assert make(f"Open the gate:\n\n{prose}") is None  # ends in ':'
    assert make(f"open(path, mode) -> file\n\n{prose}") is None  # a signature
    assert make("Open the gate.") is None  # no body
    code = f"Open the gate.\n\n{prose}\n\n    x = [i for i in range(3)]\n\n>>> gate()\n1\n\nReturns:\n    {prose}"
    assert make(code) == ("Open the gate.", prose)
    assert make(f"Open the gate with :class:`~a.Gate` now.\n\n{prose}")[0] == "Open the gate with a.Gate now."
