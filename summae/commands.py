"""The commands of `summae`: train, demo, summarize, score, plot, evaluate, baseline. Each takes the parsed arguments
(summae.cli.build_parser), calls the library and returns the exit status; errors are raised as SummaeError."""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
import warnings
from pathlib import Path

from summae.errors import SummaeError


def say(text: str) -> None:
    """A line for the user, on stderr (stdout carries the commands' output)."""
    print(text, file=sys.stderr, flush=True)


# ---- train ----------------------------------------------------------------------------------------
# the named flags of `summae train` and the config keys they set (--set reaches every other key)
TRAIN_FLAGS = {"train_files": "data.train_files", "real_files": "data.real_files", "text_field": "data.text_field",
               "minutes": "train.minutes"}


def cmd_train(args) -> int:
    from summae.train.trainer import Trainer

    cfg = train_config(args)
    out = Path(args.output_dir or Path("runs") / cfg.name)
    if out.exists() and not out.is_dir():
        raise SummaeError(f"--output-dir {out} is a file; give a directory (new or holding a run)")
    trainer = Trainer(cfg, out, resume=args.resume, device=args.device, echo=say, progress=not args.quiet)
    result = trainer.train()
    say(f"done: {result['step']} steps in {result['train_seconds']:.0f} s ({result['docs_per_s']:.0f} docs/s); "
        f"best/ from step {result['best_step']}; run directory {out}")
    return 0


def train_config(args):
    """The Config `summae train` runs: --config (or the packaged defaults), --set, then the named flags."""
    from summae.config import load_config

    overrides = _train_overrides(args)
    if not args.real_files and "train.pseudo" not in {item.split("=", 1)[0].strip() for item in args.set}:
        # no real short texts anywhere: no discriminator, and the pseudo-summaries are the lead (the extraction
        # search fits its language model on real texts); the trainer says so in one line
        if not load_config(args.config or "auto", [*overrides, "train.pseudo=lead"]).data.real_files:
            overrides.append("train.pseudo=lead")
    cfg = load_config(args.config or "auto", overrides)  # no --config: settings from the data (configs/auto.yaml)
    if not cfg.data.train_files:
        raise SummaeError("no documents to train on: pass --train-files FILE... (or a --config whose "
                          "data.train_files names them)")
    return cfg


def _train_overrides(args) -> list[str]:
    """--set items, then the named flags as overrides of their keys. Paths on the command line are relative to
    the current directory, so they go in absolute (data.data_dir only places the config file's own paths).
    Without --config the run is named after the first training file: runs/<its name> by default."""
    from summae.io import resolve_files

    values = {}
    for flag in ("train_files", "real_files"):
        patterns = getattr(args, flag)
        if patterns:
            resolve_files(patterns)  # a missing file fails here, before the run directory is made
            values[TRAIN_FLAGS[flag]] = [_from_here(p) for p in patterns]
    if args.text_field is not None:
        values["data.text_field"] = args.text_field
    if args.minutes is not None:
        values["train.minutes"] = args.minutes
    set_keys = {item.split("=", 1)[0].strip() for item in args.set}
    for flag, key in TRAIN_FLAGS.items():
        if key in values and key in set_keys:
            raise SummaeError(f"--set {key} and --{flag.replace('_', '-')} set the same value; give one of them")
    if args.config is None and args.train_files and "name" not in set_keys:
        values["name"] = _file_stem(resolve_files(args.train_files)[0])
    # JSON is YAML: the values reach the config as typed, whatever characters the paths hold
    return list(args.set) + [f"{key}={json.dumps(value, ensure_ascii=False)}" for key, value in values.items()]


def _from_here(path: str) -> str:
    from summae.io import BUNDLED_PREFIX

    return path if path.startswith(BUNDLED_PREFIX) else os.path.abspath(os.path.expanduser(path))


def _file_stem(path: str) -> str:
    """"data/news.jsonl.gz" -> "news": the file name less its compression and format suffixes."""
    name = Path(path).name
    for compression in (".gz", ".bz2", ".xz"):
        name = name.removesuffix(compression)
    stem, dot, _ = name.rpartition(".")
    return (stem if dot else name) or "summae"


# ---- demo -----------------------------------------------------------------------------------------
def cmd_demo(args) -> int:
    from summae.config import load_config
    from summae.pipeline import bundled_test_set, train_and_score

    begin = time.perf_counter()
    cfg = load_config(args.config, args.set)
    out = Path(args.output_dir or Path("runs") / cfg.name)
    report = train_and_score(cfg, out, [lambda trained: bundled_test_set(trained.summary.default_words)],
                             device=args.device, echo=say, progress=not args.quiet)
    say("\nfive test documents and their summaries:")
    for doc, summary in report["sets"]["test"]["samples"]:
        say(f"  {doc[:110]}...\n    -> {summary}")
    say(f"\ndemo finished in {time.perf_counter() - begin:.0f} s; model in {out}, scores in {out / 'results.json'}")
    return 0


# ---- summarize ------------------------------------------------------------------------------------
def cmd_summarize(args) -> int:
    from summae.io import FOLDER_GLOB, FolderReader
    from summae.summarize import Summarizer, summarize_file, summarize_folder

    if args.input != "-" and not Path(args.input).exists():
        raise SummaeError(f"input file not found: {args.input}")
    reader = None  # a folder: listed before the model loads, so a bad folder or --glob fails at once
    if args.input != "-" and Path(args.input).is_dir():
        if args.format is not None:
            raise SummaeError(f"--format is for a file; {args.input} is a folder (each file is one document)")
        reader = FolderReader(args.input, pattern=args.glob or FOLDER_GLOB, skip_bad=args.skip_bad,
                              encoding=args.encoding)
    elif args.glob is not None:
        raise SummaeError(f"--glob is for a folder; {args.input} is a file")
    summarizer = Summarizer.from_pretrained(_model_or_ready(args), device=args.device, precision=args.precision,
                                            cuda_graphs=args.cuda_graphs)
    if args.span_bonus is not None:  # instead of the model's summary.span_bonus (greedy decoding only)
        if not 0 <= args.span_bonus <= 20:
            raise SummaeError(f"--span-bonus must be in [0, 20] nats, got {args.span_bonus:g}")
        summarizer.model.rules.span_bonus = args.span_bonus
    decoding = {"words": args.words, "ratio": args.ratio, "beams": args.beams, "batch_size": args.batch_size}
    if reader is not None:
        counts = summarize_folder(summarizer, reader, args.output, **decoding, output_field=args.output_field,
                                  progress=not args.quiet)
        what, note = "files", f", {reader.note()}" if counts["skipped"] else ""
    else:
        counts = summarize_file(summarizer, args.input, args.output, **decoding, field=args.field,
                                output_field=args.output_field, overwrite=args.overwrite, fmt=args.format,
                                skip_bad=args.skip_bad, progress=not args.quiet, encoding=args.encoding)
        what, note = "documents", f", skipped {counts['skipped']} bad records" if counts["skipped"] else ""
    if counts["truncated"]:
        note += (f", {counts['truncated']} longer than model.max_source_tokens "
                 f"({summarizer.cfg.model.max_source_tokens} tokens) were cut to it")
    if not args.quiet or note:  # skips and cuts are reported even with --quiet
        say(f"summarized {counts['documents']} {what}{note}")
    return 0


def _model_or_ready(args) -> str:
    """--model, or the ready model shipped in the package (said in one line on stderr)."""
    if args.model is not None:
        return args.model
    from summae import READY_MODEL

    if not (READY_MODEL / "config.yaml").is_file():
        raise SummaeError(f"no --model given and the bundled ready model is missing from {READY_MODEL}: "
                          f"pass --model (a run directory), or reinstall summae")
    if not args.quiet:
        say(f"summae {args.command}: no --model given: using the bundled ready model ({READY_MODEL})")
    return str(READY_MODEL)


# ---- score ------------------------------------------------------------------------------------------
def cmd_score(args) -> int:
    from summae.scoring import Scorer, score_file

    if args.input != "-" and not Path(args.input).exists():
        raise SummaeError(f"input file not found: {args.input}")
    scorer = Scorer.from_pretrained(_model_or_ready(args), device=args.device)
    counts = score_file(scorer, args.input, args.output, batch_size=args.batch_size, field=args.field,
                        output_field=args.output_field, overwrite=args.overwrite, fmt=args.format,
                        skip_bad=args.skip_bad, progress=not args.quiet, encoding=args.encoding)
    note = f", skipped {counts['skipped']} bad records" if counts["skipped"] else ""
    if not args.quiet or note:  # skips are reported even with --quiet
        mean = "none" if counts["mean"] is None else f"{counts['mean']:.4f}"
        say(f"scored {counts['documents']} documents{note}; mean score {mean} nats/token")
    return 0


# ---- plot -------------------------------------------------------------------------------------------
def cmd_plot(args) -> int:
    from summae.train.plots import write_plots

    written = write_plots(args.run_dir, out_dir=args.output_dir, summaries=args.summaries,
                          references=args.references, field=args.field)
    for path in written:
        print(path)
    if not any(p.name == "length_histogram.png" for p in written):
        say("no length histogram: the run has no dev references; pass --summaries F --references F")
    return 0


# ---- evaluate / baseline ---------------------------------------------------------------------------
def cmd_evaluate(args) -> int:
    from summae.eval.rouge import evaluate_files, format_table
    from summae.output import OutputSink

    sink = OutputSink(args.output) if args.output else None  # an unwritable --output fails before scoring
    with sink or contextlib.nullcontext():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # the warning also comes back in the result
            result = evaluate_files(args.hyps, args.refs, duc=args.duc, field=args.field, encoding=args.encoding)
        print(format_table({Path(args.hyps).name: result}))
        print(f"({result['mode']}, rouge-score with stemming, {result['n']} documents, "
              f"{len(args.refs)} reference file(s))")
        if result.get("warning"):
            say(f"warning: {result['warning']}")
        if sink:
            sink.write(json.dumps(result, indent=2))
    return 0


def cmd_baseline(args) -> int:
    from summae.eval.baselines import baseline_summaries
    from summae.io import iter_texts
    from summae.output import OutputSink

    docs = iter_texts(args.input, field=args.field, encoding=args.encoding)  # streamed: constant memory
    with OutputSink(args.output) as sink:
        for doc in docs:
            sink.write(baseline_summaries([doc], lead=args.lead, lead_sentences=args.lead_sentences,
                                          prefix=args.prefix_bytes)[0])
        if not sink.written:
            raise SummaeError(f"{args.input} holds no documents")
    return 0
