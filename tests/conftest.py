"""Shared test set-up: offline Hugging Face, a private datasets cache, the CLI called in-process, and one
tiny trained run that the trainer, summarize and evaluate tests all read (training it once keeps the
fast suite fast)."""

import contextlib
import importlib.util
import io
import os
from pathlib import Path

# before anything imports transformers/datasets: the tests never touch the network
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pytest  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
TINY = REPO / "summae" / "configs" / "tiny.yaml"
# the shared run: tiny.yaml as it is, except a smaller tokenizer sample (SentencePiece time)
TINY_RUN_SETS = ["tokenizer.train_sentences=400"]


@pytest.fixture(scope="session", autouse=True)
def _datasets_cache(tmp_path_factory):
    """datasets' Arrow cache in a session temp dir, not ~/.cache (shared by every training in the session)."""
    import datasets

    before = datasets.config.HF_DATASETS_CACHE
    datasets.config.HF_DATASETS_CACHE = tmp_path_factory.mktemp("hf_datasets_cache")
    yield
    datasets.config.HF_DATASETS_CACHE = before


def load_script(relative: str):
    """A repository script (benchmarks/x.py, scripts/y.py) imported as a module: its main() and helpers."""
    path = REPO / relative
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def call_main(argv) -> int:
    """summae.cli.main in-process; argparse's SystemExit (usage errors, --help) becomes the exit code."""
    from summae.cli import main

    try:
        return main([str(a) for a in argv])
    except SystemExit as stop:
        return 0 if stop.code is None else stop.code if isinstance(stop.code, int) else 1


def run_captured(argv) -> tuple[int, str, str]:
    """call_main with stdout/stderr captured here (for session fixtures, where capsys is unavailable)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = call_main(argv)
    return code, out.getvalue(), err.getvalue()


def shown_lines(stream: str) -> list[str]:
    """The non-blank lines a terminal would show: text after the last carriage return of each line
    (a progress bar that cleans up after itself rewrites its line with \\r)."""
    return [line.rsplit("\r", 1)[-1] for line in stream.split("\n") if line.rsplit("\r", 1)[-1].strip()]


def train_tiny(run_dir, *sets):
    """`summae train` on tiny.yaml with the shared run's settings, no sample tables, then `sets` (SECTION.KEY=VALUE
    each), quiet: (exit code, stdout, stderr)."""
    argv = ["train", "--config", TINY, "--output-dir", run_dir, "--quiet"]
    for item in [*TINY_RUN_SETS, "train.sample_every=0", *sets]:
        argv += ["--set", item]
    return run_captured(argv)


@pytest.fixture
def cli(capsys):
    """cli(*argv) -> (exit code, stdout, stderr) of `summae *argv`, in-process."""

    def run(*argv):
        capsys.readouterr()  # drop whatever earlier steps of the test printed
        code = call_main(argv)
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """One `summae train --config summae/configs/tiny.yaml` run (6 steps), trained once per session.

    Returns a dict: dir (the run directory), code, out, err. Tests must not modify the directory.
    """
    run_dir = tmp_path_factory.mktemp("tiny_run") / "run"
    argv = ["train", "--config", TINY, "--output-dir", run_dir, "--quiet"]
    for item in TINY_RUN_SETS:
        argv += ["--set", item]
    code, out, err = run_captured(argv)
    if code != 0:
        pytest.fail(f"training the shared tiny run failed ({code}):\n{err[-3000:]}")
    return {"dir": run_dir, "code": code, "out": out, "err": err}


def tiny_model(sets: list[str], n_docs: int = 24):
    """The tiny config with `sets`, a tokenizer trained on 300 bundled documents, a model built at seed 0 (eval
    mode) and a batch of n_docs of them with mixed word targets: (cfg, tokenizer, model, doc, target, comp_ids,
    comp_mask)."""
    import json

    import torch

    from summae.config import load_config
    from summae.model.build import build_models
    from summae.tokenization import encode_texts, pad_ids, train_sentencepiece

    with open(REPO / "summae" / "data" / "debian" / "train.jsonl", encoding="utf-8") as handle:
        docs = [json.loads(line)["document"] for _, line in zip(range(300), handle)]
    cfg = load_config("tiny", sets)
    tokenizer = train_sentencepiece(docs, vocab_size=cfg.tokenizer.vocab_size, max_words=cfg.summary.max_words)
    torch.manual_seed(0)
    model, _, vocab = build_models(cfg, tokenizer)
    ids, _ = encode_texts(tokenizer, docs[:n_docs], cfg.model.max_source_tokens - 1)
    doc = pad_ids(ids, eos_id=vocab.eos_id, pad_id=vocab.pad_id, width=cfg.model.max_source_tokens)  # (B, L)
    target = torch.arange(n_docs) % cfg.summary.max_words + 1  # (B,)
    comp_ids, comp_mask = model.compressor_inputs(doc, doc != vocab.pad_id, target)
    return cfg, tokenizer, model.eval(), doc, target, comp_ids, comp_mask
