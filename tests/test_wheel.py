"""The package stands alone: the wheel, installed (not editable) in a folder of its own, runs `summae demo` from
an empty directory with its packaged configs, corpus and ready model, and without this checkout on the path.

Offline: the wheel is built with this environment's setuptools (no build isolation), installed without
dependencies, and run on this environment's torch/transformers/... through PYTHONPATH."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO

# the project files a build reads; the copy keeps the build's build/ and *.egg-info out of the checkout
BUILD_INPUTS = ["pyproject.toml", "setup.cfg", "README.md", "LICENSE", "NOTICE", "summae"]
# a demo that trains a few steps of a small model: the whole job, end to end, in well under two minutes on a CPU
QUICK_DEMO = ["train.minutes=null", "train.pretrain_share=null", "train.steps=3", "train.pretrain_steps=2",
              "train.warmup_steps=1", "train.eval_every=0", "train.save_every=0", "train.sample_every=0",
              "train.log_every=1", "data.dev_size=8", "tokenizer.vocab_size=300", "tokenizer.train_sentences=2000",
              "model.d_model=32", "model.encoder_layers=1", "model.decoder_layers=1", "model.heads=2",
              "model.ffn_dim=64", "model.disc_d_model=16", "model.disc_filters=16"]


def run(argv, **kwargs) -> subprocess.CompletedProcess:
    done = subprocess.run(argv, capture_output=True, text=True, **kwargs)
    assert done.returncode == 0, f"{argv} exited {done.returncode}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The wheel built from a copy of the project and installed into a fresh folder (--target)."""
    source = tmp_path_factory.mktemp("source")
    for name in BUILD_INPUTS:
        path = REPO / name
        if path.is_dir():
            shutil.copytree(path, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(path, source / name)
    wheels = tmp_path_factory.mktemp("wheels")
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q", "-w",
         str(wheels), str(source)], cwd=source, timeout=600)
    (wheel,) = wheels.glob("summae-*.whl")
    target = tmp_path_factory.mktemp("site")
    run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "-q", "--target", str(target),
         str(wheel)], timeout=600)
    return target


def env_for(target: Path) -> dict:
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    return {**env, "PYTHONPATH": str(target), "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}


@pytest.mark.slow
def test_the_wheel_carries_configs_corpus_and_ready_model(installed):
    package = installed / "summae"
    for name in ("tiny", "demo", "gigaword", "ready", "throughput"):
        assert (package / "configs" / f"{name}.yaml").is_file(), name
    for name in ("train.jsonl", "test.jsonl", "headlines.txt", "NOTICE"):
        assert (package / "data" / "debian" / name).is_file(), name
    for name in ("config.yaml", "compressor/model.safetensors", "compressor/tokenizer.json",
                 "reconstructor/model.safetensors"):
        assert (package / "data" / "ready" / name).is_file(), name
    assert not list(installed.glob("tests")) and not list(installed.glob("benchmarks"))


@pytest.mark.slow
def test_the_installed_wheel_runs_the_demo_from_an_empty_directory(installed, tmp_path):
    elsewhere = tmp_path / "empty"
    elsewhere.mkdir()
    env = env_for(installed)
    where = run([sys.executable, "-c", "import summae; print(summae.__file__)"], cwd=elsewhere, env=env,
                timeout=120).stdout.strip()
    assert Path(where).is_relative_to(installed), f"imported {where}, not the installed wheel"
    argv = [sys.executable, "-m", "summae.cli", "demo", "--output-dir", "run", "--device", "cpu", "--quiet"]
    for item in QUICK_DEMO:
        argv += ["--set", item]
    done = run(argv, cwd=elsewhere, env=env, timeout=600)
    print(done.stderr[-4000:])  # shown with pytest -s: the report of the run
    assert "test (500 documents, ROUGE F1" in done.stderr  # the test table, beside the Lead baselines
    for row in ("summae", "lead8", "lead1sent", "prefix75"):
        assert any(line.split()[:1] == [row] for line in done.stderr.splitlines()), row
    assert "five test documents and their summaries:" in done.stderr
    assert (elsewhere / "run" / "results.json").is_file() and (elsewhere / "run" / "best").is_dir()
    assert sorted(p.name for p in elsewhere.iterdir()) == ["run"]  # nothing written beside it


@pytest.mark.slow
def test_the_installed_cli_summarizes_with_the_ready_model(installed, tmp_path):
    docs = tmp_path / "docs.txt"
    docs.write_text("the debian package manager installs and removes software packages\n", encoding="utf-8")
    done = run([sys.executable, "-m", "summae.cli", "summarize", "--input", "docs.txt", "--device", "cpu"],
               cwd=tmp_path, env=env_for(installed), timeout=300)
    assert len(done.stdout.splitlines()) == 1 and done.stdout.strip()
    assert str(installed / "summae" / "data" / "ready") in done.stderr  # the note names the packaged model


def test_pyproject_ships_the_configs_and_the_bundled_data():
    """The fast half of the check above: package-data names every folder of summae/ that holds data."""
    import tomllib

    data = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    globs = data["tool"]["setuptools"]["package-data"]["summae"]
    root = REPO / "summae"
    shipped = {path for pattern in globs for path in root.glob(pattern) if path.is_file()}
    needed = [p for folder in ("configs", "data") for p in (root / folder).rglob("*")
              if p.is_file() and "__pycache__" not in p.parts]
    assert needed and [str(p.relative_to(root)) for p in needed if p not in shipped] == []
