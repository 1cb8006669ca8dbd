"""Where summarizing spends its time, in a fresh process, as `summae summarize` runs it.

    python benchmarks/summarize_parts.py [--sentences 2048] [--passes 3] [--batch-size 256] [--precision auto]
        [--data-dir DIR] [--out FILE]

Builds the throughput model (configs/throughput.yaml, untrained weights, the CLI's allocator tuning), then
summarizes n dev sentences in one call per pass (length-sorted windows, as the CLI reads a file) after one
untimed pass. Each pass reports its rate and the wall time of its parts, timed by wrapping them (no
profiler: on 2 cores torch.profiler inflated elementwise ops up to 10x): the encoder, the static decoder's
set-up (cross-attention keys/values) and steps (with the LM head), the copy head, the whole-word choice and
the length rules. Writes benchmarks/results/summarize-parts-<YYYYMMDD>-<hardware>.json.
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import throughput  # noqa: E402  (sets HF_*_OFFLINE and sys.path like every benchmark)


def wrap(obj, attr: str, name: str, totals: dict) -> None:
    original = getattr(obj, attr)

    def timed(*args, **kwargs):
        begin = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            totals[name] = totals.get(name, 0.0) + time.perf_counter() - begin

    setattr(obj, attr, timed)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sentences", type=int, default=2048)
    parser.add_argument("--passes", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=None, help="default: summae summarize's")
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--out")
    args = parser.parse_args(argv)

    import summae.fastdecode as fastdecode
    import summae.modeling as modeling
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
        totals: dict[str, float] = {}
        m = summarizer.model
        wrap(m, "write_summary", "write_summary", totals)
        wrap(m, "_encode", "encoder", totals)
        wrap(fastdecode.StaticDecoder, "__init__", "decoder_setup", totals)
        wrap(fastdecode.StaticDecoder, "step", "decoder_steps", totals)
        wrap(m.compressor.lm_head, "forward", "decoder_steps/lm_head", totals)
        if m.copy_head is not None:
            wrap(m.copy_head, "forward", "copy_head", totals)
        wrap(modeling, "choose_spelled", "whole_word_choice", totals)
        wrap(m, "_rules", "length_rules", totals)
        passes = []
        for _ in range(args.passes):
            totals.clear()
            begin = time.perf_counter()
            summarizer(texts, batch_size=bs)
            whole = time.perf_counter() - begin
            parts = {k: round(1e3 * v, 1) for k, v in sorted(totals.items())}
            top = sum(v for k, v in parts.items() if "/" not in k and k != "write_summary")
            parts["rest_of_write_summary"] = round(parts["write_summary"] - top, 1)
            parts["outside_write_summary"] = round(1e3 * whole - parts["write_summary"], 1)  # tokenizing, batching
            passes.append({"ms": round(1e3 * whole, 1), "sentences_per_s": round(args.sentences / whole, 1),
                           "parts_ms": parts})
            print(json.dumps(passes[-1]), file=sys.stderr)
    hw, detail = throughput.hardware("cpu")
    out = {"benchmark": "summarize_parts", "commit": throughput.commit(), "date": dt.date.today().isoformat(),
           "hardware": hw, "hardware_detail": detail, "allocator": allocator, "precision": summarizer.precision,
           "sentences": args.sentences, "batch_size": bs, "model": "configs/throughput.yaml, untrained",
           "median_sentences_per_s": statistics.median(p["sentences_per_s"] for p in passes), "passes": passes}
    path = Path(args.out or ROOT / "benchmarks" / "results" / f"summarize-parts-{dt.date.today():%Y%m%d}-{hw}.json")
    path.write_text(json.dumps(out, indent=1) + "\n")
    print(f"median {out['median_sentences_per_s']} sentences/s; wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
