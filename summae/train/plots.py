"""PNG plots of a run, from RUN_DIR/metrics.jsonl: losses, discriminator accuracy, summary length over
training, and a histogram of summary lengths against reference lengths.

Written at the end of `summae train` and by `summae plot RUN_DIR`. matplotlib draws off-screen (Agg
canvas, no GUI, no global pyplot state). The histogram needs summaries and references: training writes
RUN_DIR/dev_lengths.json when the run has dev references (the final model's greedy dev summaries), and
`summae plot --summaries F --references F` draws it for any pair of line-aligned files.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from summae.config import Config
from summae.errors import SummaeError
from summae.io import read_texts
from summae.train.dev_eval import decode, summarize_ids

LENGTHS_FILE = "dev_lengths.json"  # {"summary_words": [...], "reference_words": [...]}, line-aligned
LOSS_KEYS = ("loss/rec", "loss/lead", "loss/adv", "loss/d", "loss/total")
D_KEYS = ("d/acc_real", "d/acc_fake")


def read_metrics(run_dir: str | Path) -> list[dict]:
    """The rows of RUN_DIR/metrics.jsonl (each with a "step"); one-line errors for missing/empty/corrupt files."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise SummaeError(f"run directory not found: {run_dir}")
    path = run_dir / "metrics.jsonl"
    if not path.is_file():
        raise SummaeError(f"{path} not found: is {run_dir} a run directory of `summae train`?")
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError:
        raise SummaeError(f"{path} is not UTF-8 text: the file is corrupt") from None
    rows = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise SummaeError(f"{path} line {number}: malformed JSON ({err.msg}): the file is corrupt") from None
        if not isinstance(row, dict) or not isinstance(row.get("step"), int):
            raise SummaeError(f"{path} line {number}: expected a JSON object with an integer \"step\"")
        rows.append(row)
    if not rows:
        raise SummaeError(f"{path} is empty: the run logged no step yet "
                          "(metrics are written every train.log_every steps)")
    return rows


def series(rows: list[dict], key: str) -> tuple[list[int], list[float]]:
    """(steps, values) of one metric, in file order, skipping rows without it (and non-finite values)."""
    pairs = [(r["step"], float(r[key])) for r in rows
             if isinstance(r.get(key), (int, float)) and math.isfinite(float(r[key]))]
    return [s for s, _ in pairs], [v for _, v in pairs]


def word_counts(texts: list[str]) -> list[int]:
    return [len(t.split()) for t in texts]


def _figure(title: str, ylabel: str):
    from matplotlib.figure import Figure  # a bare Figure renders with Agg: no display, no pyplot

    fig = Figure(figsize=(7, 4), dpi=100, layout="constrained")
    ax = fig.subplots()
    ax.set_title(title)
    ax.set_xlabel("step")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    return fig, ax


def _mark_pretraining(ax, pretrain_steps: int | None, rows: list[dict]) -> None:
    # only inside the logged range: a run stopped during pretraining has no end of pretraining to show
    if pretrain_steps and pretrain_steps < max(r["step"] for r in rows):
        ax.axvline(pretrain_steps, color="grey", linestyle=":", linewidth=1)
        ax.annotate(" end of lead pretraining", (pretrain_steps, 1), xycoords=("data", "axes fraction"),
                    va="top", fontsize=8, color="grey")


def plot_losses(rows: list[dict], path: Path, pretrain_steps: int | None = None) -> bool:
    fig, ax = _figure("losses", "nats / token (loss/d: binary cross-entropy)")
    drawn = 0
    for key in LOSS_KEYS:
        steps, values = series(rows, key)
        if steps:
            ax.plot(steps, values, label=key, linewidth=1.2)
            drawn += 1
    steps, values = series(rows, "dev/rec_nll")
    if steps:
        ax.plot(steps, values, "o--", label="dev/rec_nll (held out)", markersize=4)
        drawn += 1
    if not drawn:
        return False
    _mark_pretraining(ax, pretrain_steps, rows)
    ax.legend(fontsize=8)
    fig.savefig(path)
    return True


def plot_discriminator(rows: list[dict], path: Path, pretrain_steps: int | None = None) -> bool:
    """False (and no file) for a run without a discriminator."""
    if not any(series(rows, key)[0] for key in D_KEYS):
        return False
    fig, ax = _figure("discriminator accuracy (0.5 = it cannot tell summaries from real text)", "accuracy")
    for key, label in zip(D_KEYS, ("on real short texts", "on generated summaries")):
        steps, values = series(rows, key)
        ax.plot(steps, values, label=f"{key} ({label})", linewidth=1.2)
    ax.axhline(0.5, color="black", linewidth=0.6)
    ax.set_ylim(-0.02, 1.02)
    _mark_pretraining(ax, pretrain_steps, rows)
    ax.legend(fontsize=8)
    fig.savefig(path)
    return True


def plot_summary_length(rows: list[dict], path: Path, pretrain_steps: int | None = None) -> bool:
    fig, ax = _figure("summary length", "words")
    steps, values = series(rows, "summary/words")
    if steps:
        # the length rules make a training summary exactly as long as its target (unless it runs out of tokens)
        ax.plot(steps, values, label="training summaries: mean word target", linewidth=1.2)
    dev_steps, dev_values = series(rows, "dev/words")
    if dev_steps:
        ax.plot(dev_steps, dev_values, "o--", label="dev summaries: mean words (greedy)", markersize=4)
    if not steps and not dev_steps:
        return False
    # from zero: a change of a tenth of a word must not look like a trend
    ax.set_ylim(0, max(values + dev_values) * 1.2)
    _mark_pretraining(ax, pretrain_steps, rows)
    ax.legend(fontsize=8)
    fig.savefig(path)
    return True


def plot_length_histogram(summary_words: list[int], reference_words: list[int], path: Path) -> None:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 4), dpi=100, layout="constrained")
    ax = fig.subplots()
    top = max(summary_words + reference_words + [1])
    bins = [b - 0.5 for b in range(0, top + 2)]  # one bin per word count
    ax.hist(reference_words, bins=bins, alpha=0.5,
            label=f"references (mean {sum(reference_words) / len(reference_words):.1f})")
    ax.hist(summary_words, bins=bins, alpha=0.5,
            label=f"summaries (mean {sum(summary_words) / len(summary_words):.1f})")
    ax.set_title(f"summary vs reference length ({len(summary_words)} documents)")
    ax.set_xlabel("words")
    ax.set_ylabel("documents")
    ax.legend(fontsize=8)
    fig.savefig(path)


def _pretrain_steps(run_dir: Path) -> int | None:
    """The run's train.pretrain_steps (for a marker on the plots), or None without a readable config."""
    try:
        return Config.from_yaml(run_dir / "config.yaml").train.pretrain_steps
    except SummaeError:
        return None


def read_lengths(run_dir: Path, summaries: str | None, references: str | None,
                 field: str | None) -> tuple[list[int], list[int]] | None:
    """(summary words, reference words): from the two files when given, else RUN_DIR/dev_lengths.json, else None."""
    if (summaries is None) != (references is None):
        raise SummaeError("give --summaries and --references together (line-aligned files)")
    if summaries is not None:
        hyps, refs = read_texts(summaries, field=field), read_texts(references, field=field)
        if len(hyps) != len(refs):
            raise SummaeError(f"{summaries} has {len(hyps)} lines but {references} has {len(refs)}: "
                              f"they must be line-aligned")
        if not hyps:
            raise SummaeError(f"{summaries} is empty")
        return word_counts(hyps), word_counts(refs)
    path = run_dir / LENGTHS_FILE
    if not path.exists():
        return None
    try:
        blob = json.loads(path.read_text(encoding="utf-8"))
        pair = [int(n) for n in blob["summary_words"]], [int(n) for n in blob["reference_words"]]
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        raise SummaeError(f"{path} is corrupt: expected "
                          f"{{\"summary_words\": [...], \"reference_words\": [...]}}") from None
    return pair if pair[0] and pair[1] else None


def write_plots(run_dir: str | Path, *, out_dir: str | Path | None = None, summaries: str | None = None,
                references: str | None = None, field: str | None = None) -> list[Path]:
    """Draw every plot the run's data allows into out_dir (default RUN_DIR/plots); returns the PNGs written."""
    run_dir = Path(run_dir)
    rows = read_metrics(run_dir)
    lengths = read_lengths(run_dir, summaries, references, field)
    out = Path(out_dir) if out_dir is not None else run_dir / "plots"
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise SummaeError(f"cannot create {out}: {err.strerror}") from None
    pretrain = _pretrain_steps(run_dir)
    written = []
    for name, draw in (("losses", plot_losses), ("discriminator", plot_discriminator),
                       ("summary_length", plot_summary_length)):
        if draw(rows, out / f"{name}.png", pretrain):
            written.append(out / f"{name}.png")
    if lengths is not None:
        plot_length_histogram(*lengths, out / "length_histogram.png")
        written.append(out / "length_histogram.png")
    return written


def save_dev_lengths(run_dir: Path, model, dev) -> None:
    """RUN_DIR/dev_lengths.json: word counts of the model's greedy dev summaries and of the dev references."""
    summaries, targets = summarize_ids(model, dev.ids, dev.words, dev.max_words)
    texts = decode(dev.tokenizer, summaries, targets)
    blob = {"summary_words": word_counts(texts), "reference_words": word_counts(dev.refs)}
    (Path(run_dir) / LENGTHS_FILE).write_text(json.dumps(blob) + "\n", encoding="utf-8")


def after_training(run_dir: Path, model, dev, *, echo=print) -> list[Path]:
    """End of `summae train`: the dev length file (when the run has references) and the plots.

    A plotting problem never fails a finished training run: it is reported in one line instead.
    """
    try:
        if dev.refs is not None:
            was_training = model.training
            model.eval()
            save_dev_lengths(run_dir, model, dev)
            model.train(was_training)
        written = write_plots(run_dir)
    except ImportError as err:  # matplotlib is a dependency, but a broken install must not lose the run
        echo(f"plots skipped: {err}")
        return []
    except (SummaeError, OSError) as err:
        echo(f"plots skipped: {err}")
        return []
    echo(f"plots: {', '.join(str(p) for p in written)}")
    return written
