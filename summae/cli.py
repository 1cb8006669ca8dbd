"""`summae train | demo | summarize | score | evaluate | baseline | plot`: the argument parser and the entry point;
the commands themselves are summae.commands, thin wrappers over the library. Errors are one line, exit status 2."""

from __future__ import annotations

import argparse
import logging
import warnings

from summae import __version__
from summae.commands import (cmd_baseline, cmd_demo, cmd_evaluate, cmd_plot, cmd_score, cmd_summarize,
                             cmd_train, say)
from summae.errors import SummaeError

EPILOG = "Errors print one line and exit with status 2. Docs: README.md."


def quiet_libraries() -> None:
    # transformers/datasets chatter (and their deprecation warnings) drown the one line users need.
    # TOKENIZERS_PARALLELISM stays as the user has it: summae never forks after tokenizing, and a batch of
    # texts encodes on all cores (serial encoding was a large share of summarizing on a GPU: docs/performance.md)
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    for name in ("transformers", "datasets", "accelerate", "torch.distributed"):
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        from transformers.utils import logging as hf_logging
        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
    except ImportError:
        pass


# ---- parser ----------------------------------------------------------------------------------------
def _parsed(text: str, convert, what: str):
    try:
        return convert(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None


def _checked(value, ok: bool, rule: str):
    if not ok:
        raise argparse.ArgumentTypeError(rule)
    return value


def positive_int(text: str) -> int:
    """argparse type: a whole number >= 1 (shared with scripts/)."""
    value = _parsed(text, int, "a whole number")
    return _checked(value, value >= 1, f"must be >= 1, got {value}")


def ratio(text: str) -> float:
    """argparse type: a share in (0, 1] (shared with scripts/)."""
    value = _parsed(text, float, "a number")
    return _checked(value, 0 < value <= 1, f"must be in (0, 1], got {value}")


def positive_float(text: str) -> float:
    """argparse type: a number > 0."""
    value = _parsed(text, float, "a number")
    return _checked(value, value > 0 and value != float("inf"), f"must be a number > 0, got {text}")


class Parser(argparse.ArgumentParser):
    """argparse with one-line usage errors and exit status 2 (shared with scripts/)."""

    def error(self, message):  # one line, exit 2, like every other error
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="summae", description="Unsupervised summarization with a text-bottleneck auto-encoder.",
                    epilog=EPILOG)
    parser.add_argument("--version", action="version", version=f"summae {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    p = sub.add_parser("train", help="train a summarizer on unlabeled documents", epilog=EPILOG,
                       description="Train compressor and reconstructor (and, given real short texts, the "
                                   "discriminator) on unlabeled documents. Without --config the auto config "
                                   "applies (settings chosen from the data); --train-files, --real-files, --text-field "
                                   "and --minutes override the "
                                   "config's values, --set any other. Paths on the command line are relative to "
                                   "the current directory.")
    p.add_argument("--config", help="a YAML file or a shipped config name (tiny, demo, gigaword, ...; every key is "
                                    "commented there); default: auto, the recipe with the model size, lengths and "
                                    "teacher weights chosen from the data and --minutes (printed at the start)")
    p.add_argument("--train-files", nargs="+", metavar="FILE",
                   help="documents: .txt (one per line), .jsonl, .json, .csv or .parquet, or globs (data.train_files)")
    p.add_argument("--real-files", nargs="+", metavar="FILE",
                   help="real short texts (e.g. headlines) for the discriminator (data.real_files); without any, "
                        "training uses lead pseudo-summaries and no discriminator")
    p.add_argument("--text-field", metavar="NAME",
                   help="the document column of .jsonl/.csv/.parquet train files (data.text_field; default document)")
    p.add_argument("--minutes", type=positive_float, metavar="M",
                   help="stop after M minutes of training, or at train.steps if sooner (train.minutes)")
    p.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="override one config value, e.g. --set train.lr=3e-4 (repeatable)")
    p.add_argument("--output-dir", help="run directory (default: runs/<config name>; without --config, "
                                        "runs/<first train file's name>, e.g. runs/news for news.jsonl)")
    p.add_argument("--resume", action="store_true", help="continue the run in --output-dir from its last/ checkpoint")
    p.add_argument("--device", default="auto", choices=["auto", "cpu"],
                   help="auto: accelerate's choice (GPU when present; use `accelerate launch` for several); "
                        "cpu: force CPU")
    p.add_argument("--quiet", action="store_true", help="no progress bar (metric lines and notes still print)")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("demo", help="train on the bundled corpus, summarize its test part, score against Lead",
                       epilog=EPILOG, description="The main job on the bundled Debian corpus: train a small model "
                       "(train.minutes: 5 minutes with the demo config; a CPU is enough), summarize the 500 held-out "
                       "descriptions, print ROUGE beside the Lead baselines and five sample summaries.")
    p.add_argument("--config", default="demo", help="a YAML file or a shipped config name (default: demo)")
    p.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE", help="override a config value")
    p.add_argument("--output-dir", help="run directory (default runs/<config name>, i.e. runs/demo); must not hold "
                                        "a run yet")
    p.add_argument("--device", default="auto", choices=["auto", "cpu"], help="auto (GPU when present) or cpu")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("summarize", help="summarize a file of documents, or each file of a folder", epilog=EPILOG,
                       description="Write one summary per document: txt in -> txt out (line for line); "
                                   "jsonl in -> the same records plus --output-field; a folder in -> each file "
                                   "(--glob) read whole as one document, one JSON line per file in name order: "
                                   '{"file": NAME, "generated_summary": SUMMARY}. Default decoding: greedy, '
                                   "the model's summary.default_words words.")
    p.add_argument("--model", help="a run directory (uses best/, else last/) or a checkpoint directory "
                                   "(default: the ready model shipped with summae)")
    _record_file_args(p, output_field="generated_summary", value="summary", batch_size=None, folders=True)
    p.add_argument("--glob", metavar="PATTERN",
                   help="with a folder --input: the files to read (default *.txt; **/*.txt recurses); hidden and "
                        "*.summary.txt files are never read")
    p.add_argument("--precision", choices=["auto", "fp32", "bf16"], default="auto",
                   help="auto (default): bf16 where the hardware has native bf16 matmuls (CUDA; CPUs with AMX or "
                        "AVX512-BF16), else fp32")
    p.add_argument("--cuda-graphs", action="store_true",
                   help="on a GPU, replay greedy decoding from CUDA graphs (same summaries; off by default until "
                        "measured faster)")
    p.add_argument("--no-cuda-graphs", action="store_true", help=argparse.SUPPRESS)  # the default now; old scripts
    length = p.add_mutually_exclusive_group()
    length.add_argument("--words", type=positive_int, help="at most N words per summary, aiming at N")
    length.add_argument("--ratio", type=ratio, help="summary words as a share of each document's words, (0, 1]")
    p.add_argument("--beams", type=positive_int, default=1, help="beam search width; 1 = greedy (default)")
    p.add_argument("--span-bonus", type=float, metavar="NATS",
                   help="greedy decoding: favour the word that follows, in the document, the word just written "
                        "(more of the document's own phrases), in [0, 20]; default: the model's summary.span_bonus")
    p.set_defaults(func=cmd_summarize)

    p = sub.add_parser("score", help="novelty score of each document: its reconstruction loss", epilog=EPILOG,
                       description="Mean token NLL (nats/token) of rebuilding each document from the model's "
                                   "greedy summary at its default length: high = unlike the training data. "
                                   "txt in -> one score per line (nan for blank lines); jsonl in -> the records "
                                   "plus --output-field.")
    p.add_argument("--model", help="a run directory or checkpoint directory with a reconstructor/ "
                                   "(default: the ready model shipped with summae)")
    _record_file_args(p, output_field="score", value="score")
    p.set_defaults(func=cmd_score)

    p = sub.add_parser("plot", help="PNG plots of a training run from RUN_DIR/metrics.jsonl", epilog=EPILOG,
                       description="Losses, discriminator accuracy (runs that had real texts) and summary "
                                   "length over training, and a histogram of summary vs reference lengths (from "
                                   "RUN_DIR/dev_lengths.json, written when the run has dev references, or from "
                                   "--summaries/--references). Prints the path of each PNG written.")
    p.add_argument("run_dir", metavar="RUN_DIR", help="a run directory of `summae train` (holds metrics.jsonl)")
    p.add_argument("--output-dir", help="where the PNGs go (default RUN_DIR/plots)")
    p.add_argument("--summaries", help="summaries, one per line (.txt) or .jsonl with --field, for the histogram")
    p.add_argument("--references", help="references line-aligned with --summaries (.txt, or .jsonl with --field)")
    p.add_argument("--field", help="the text field of .jsonl --summaries/--references")
    p.set_defaults(func=cmd_plot)

    p = sub.add_parser("evaluate", help="ROUGE of summaries against references", epilog=EPILOG,
                       description="ROUGE-1/2/L (rouge-score, Porter stemming) in percent and the mean summary "
                                   "length in words. Default: F1, averaged over references, then documents.")
    p.add_argument("--hyps", required=True, help="summaries, one per line (.txt) or a .jsonl file with --field")
    p.add_argument("--refs", required=True, nargs="+", help="reference file(s), line-aligned with --hyps")
    p.add_argument("--duc", action="store_true",
                   help="DUC rules: recall, hypothesis and references cut to their first 75 bytes")
    p.add_argument("--field", help="the text field of .jsonl inputs")
    p.add_argument("--output", help="also write the scores as JSON here")
    p.add_argument("--encoding", default="utf-8", help="text encoding of all files, e.g. latin-1 (default utf-8)")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("baseline", help="write Lead-N, lead-sentence or prefix baseline summaries", epilog=EPILOG,
                       description="One baseline summary per document, one per line (also for .jsonl input): "
                                   "its first N words (Lead-N), its first N sentences or its first N bytes.")
    p.add_argument("--input", required=True, help="documents, one per line (.txt) or .jsonl with --field")
    p.add_argument("--output", default="-", help="output file (written atomically); - for stdout (default)")
    kind = p.add_mutually_exclusive_group(required=True)
    kind.add_argument("--lead", type=positive_int, help="the first N words")
    kind.add_argument("--lead-sentences", type=positive_int, metavar="N",
                      help="the first N sentences (rule-based splitter, sentencex; text without sentence "
                           "punctuation is one sentence)")
    kind.add_argument("--prefix-bytes", type=positive_int, help="the first N UTF-8 bytes (whole characters)")
    p.add_argument("--field", help="the document field of a .jsonl input")
    p.add_argument("--encoding", default="utf-8", help="input text encoding, e.g. latin-1 (default utf-8)")
    p.set_defaults(func=cmd_baseline)
    return parser


def _record_file_args(p, *, output_field: str, value: str, batch_size: int | None = 64, folders: bool = False) -> None:
    """The input/output options of the commands that write one value per document (summarize, score).
    batch_size None: the summarizer's default for the device (summae.summarize.default_batch_size).
    folders: --input may also be a folder, each file one document."""
    p.add_argument("--input", required=True, help="a .txt (one document per line) or .jsonl file; - for stdin"
                   + ("; or a folder (each file one document, see --glob)" if folders else ""))
    p.add_argument("--output", default="-", help="output file (written atomically); - for stdout (default)")
    p.add_argument("--batch-size", type=positive_int, default=batch_size,
                   help=f"documents per batch (default {batch_size})" if batch_size is not None else
                   "documents per batch (default 256 on the CPU, 2048 / --beams, at least 16, on a GPU)")
    p.add_argument("--device", default="auto", help="auto (GPU if present), cpu, cuda or cuda:N")
    p.add_argument("--field", default="document", help="jsonl: the field holding the document (default document)")
    p.add_argument("--output-field", default=output_field,
                   help=f"jsonl: the field to write the {value} into (default {output_field})")
    p.add_argument("--overwrite", action="store_true", help="jsonl: replace --output-field where records have it")
    p.add_argument("--format", choices=["txt", "jsonl"], help="input format (default: by extension; stdin: txt)")
    p.add_argument("--encoding", default="utf-8", help="input text encoding, e.g. latin-1 (default utf-8)")
    p.add_argument("--skip-bad", "--skip-bad-records", action="store_true",
                   help="skip bad records instead of stopping, and count them: jsonl lines that are not a JSON "
                        "object with a text --field, and lines not in --encoding; the output has no line for them"
                        + ("; a folder: files not in --encoding (binary files too) or unreadable" if folders else ""))
    why = ("records were skipped or documents cut to model.max_source_tokens (a warning: the output lacks those "
           "records or summarizes only the documents' beginning)" if value == "summary" else
           "records were skipped (a warning: the output lacks them)")
    p.add_argument("--quiet", action="store_true",
                   help=f"no progress bar, no note about the model used and no closing count line; the count line "
                        f"still prints when {why}")


def _interruptible() -> None:
    """Ctrl-C must stop a run even when it was started in the background (`cmd &` in a script), where the
    shell hands the process an ignored SIGINT and Python would never raise KeyboardInterrupt."""
    import signal
    import threading

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.default_int_handler)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    quiet_libraries()
    _interruptible()
    from summae.runtime import tune_cpu_allocator

    tune_cpu_allocator()  # freed tensor memory stays in the process (summae/runtime.py)
    try:
        return args.func(args)
    except SummaeError as err:
        say(f"summae {args.command}: error: {err}{_notes(err)}")
        return 2
    except KeyboardInterrupt as stop:
        say(f"summae {args.command}: interrupted{_notes(stop)}")
        return 130
    except BrokenPipeError:
        return 0  # `summae summarize ... | head` closed the pipe
    except MemoryError:
        say(f"summae {args.command}: error: out of memory; lower --batch-size or train.batch_size")
        return 2
    except OSError as err:
        say(f"summae {args.command}: error: {err.strerror or err}: {err.filename or ''}".rstrip(": ") + _notes(err))
        return 2


def _notes(error: BaseException) -> str:
    """What the error collected on its way out (e.g. where a failed run's output lines are), on its line."""
    return "".join(f"; {note}" for note in getattr(error, "__notes__", ()))


if __name__ == "__main__":
    raise SystemExit(main())
