"""Where summarizing spends its time, in a fresh process, as `summae summarize` runs it.

    python benchmarks/experiments/summarize_parts.py [--sentences 2048] [--passes 3] [--batch-size 256]
        [--precision auto] [--data-dir DIR] [--out FILE]

Builds the throughput model (summae/configs/throughput.yaml, untrained weights, the CLI's allocator tuning), then
summarizes n dev sentences in one call per pass (length-sorted windows, as the CLI reads a file) after one
untimed pass. Each pass reports its rate and the wall time of its parts, timed by wrapping them (no
profiler: on 2 cores torch.profiler inflated elementwise ops up to 10x): the encoder, the static decoder's
set-up (cross-attention keys/values) and steps (with the LM head), the copy head, the whole-word choice and
the length rules. Writes benchmarks/results/summarize-parts-<YYYYMMDD>-<hardware>.json.
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))

import throughput  # noqa: E402  (sets HF_*_OFFLINE and sys.path like every benchmark)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sentences", type=int, default=2048)
    parser.add_argument("--passes", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=None, help="default: summae summarize's")
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--out")
    args = parser.parse_args(argv)

    import summae.fast.static_cache as fastdecode
    import summae.model.autoencoder as modeling
    from summae.runtime import tune_cpu_allocator
    from summae.summarize import BATCH_SIZE, Summarizer

    allocator = tune_cpu_allocator()
    bs = args.batch_size or BATCH_SIZE
    targs = throughput.parse_args(["--device", "cpu"] + (["--data-dir", args.data_dir] if args.data_dir else []))
    with tempfile.TemporaryDirectory(prefix="summae-parts-") as out_dir:
        cfg, trainer = throughput.build_trainer(targs, "cpu", out_dir)
        model = trainer.accelerator.unwrap_model(trainer.model)
        texts = throughput.dev_sentences(cfg, args.sentences)
        summarizer = Summarizer(cfg, trainer.tokenizer, copy.deepcopy(model), device="cpu", precision=args.precision)
        summarizer(texts, batch_size=bs)  # untimed: every batch width met once
        clock = throughput.Clock("cpu")
        timers, m = throughput.Breakdown(clock), summarizer.model  # names nest: "write_summary/encoder"
        timers.wrap(m, "write_summary", "write_summary")
        timers.wrap(m, "_encode", "encoder")
        timers.wrap(fastdecode.StaticDecoder, "__init__", "decoder_setup")
        timers.wrap(fastdecode.StaticDecoder, "step", "decoder_steps")
        timers.wrap(m.compressor.lm_head, "forward", "lm_head")
        if m.copy_head is not None:
            timers.wrap(m.copy_head, "forward", "copy_head")
        timers.wrap(modeling, "choose_spelled", "whole_word_choice")  # looked up at call time
        timers.wrap(m, "_rules", "length_rules")
        passes = []
        for _ in range(args.passes):
            timers.total.clear()
            begin = clock()
            summarizer(texts, batch_size=bs)
            whole = clock() - begin
            parts = {k.removeprefix("write_summary/"): round(1e3 * v, 1) for k, v in sorted(timers.total.items())}
            top = sum(v for k, v in parts.items() if "/" not in k and k != "write_summary")
            parts["rest_of_write_summary"] = round(parts["write_summary"] - top, 1)
            parts["outside_write_summary"] = round(1e3 * whole - parts["write_summary"], 1)  # tokenizing, batching
            passes.append({"ms": round(1e3 * whole, 1), "sentences_per_s": round(args.sentences / whole, 1),
                           "parts_ms": parts})
            print(json.dumps(passes[-1]), file=sys.stderr)
    median = statistics.median(p["sentences_per_s"] for p in passes)
    print(f"median {median} sentences/s", file=sys.stderr)
    throughput.write_result("summarize-parts", {
        "allocator": allocator, "precision": summarizer.precision, "sentences": args.sentences, "batch_size": bs,
        "model": "summae/configs/throughput.yaml, untrained", "median_sentences_per_s": median, "passes": passes},
        out=args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
