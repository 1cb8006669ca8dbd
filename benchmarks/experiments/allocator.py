"""glibc's allocator as it comes against as `summae` tunes it (summae/runtime.py): the throughput benchmark, \
alternating.

    python benchmarks/experiments/allocator.py [--rounds 3] [--out FILE] [-- THROUGHPUT ARGS...]

The allocator is a setting of the whole process, so each measurement is a fresh `benchmarks/throughput.py
--device cpu` process: with `--default-allocator` (glibc as it comes) and without (tuned, as the CLI runs),
alternating for --rounds rounds so both see the same machine periods. Reports each run's training,
supervised and summarizing rates and the median per way. Writes
benchmarks/results/allocator-<YYYYMMDD>-cpu2.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))

import throughput  # noqa: E402  (sets HF_*_OFFLINE and sys.path like every benchmark)

KEYS = ("train_docs_per_s", "supervised_docs_per_s", "train_over_supervised_time", "summarize_sentences_per_s",
        "summarize_fp32_sentences_per_s", "peak_mem_mb")
WAYS = {"default": ["--default-allocator"], "tuned": []}


def one_run(way: str, extra: list[str], out_dir: str, i: int) -> dict:
    out = Path(out_dir) / f"{way}-{i}.json"
    cmd = [sys.executable, str(ROOT / "benchmarks" / "throughput.py"), "--device", "cpu", "--out", str(out),
           *WAYS[way], *extra]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    payload = json.loads(out.read_text())
    return {"allocator": payload["allocator"],
            **{k: payload["configs"]["throughput"].get(k) for k in KEYS}}


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="runs per way, alternating, >= 1")
    parser.add_argument("--out", help="result JSON (default benchmarks/results/allocator-DATE-cpu2.json)")
    args = parser.parse_args(argv[: argv.index("--")] if "--" in argv else argv)
    if args.rounds < 1:
        parser.error("--rounds must be >= 1")
    runs: dict[str, list[dict]] = {way: [] for way in WAYS}
    with tempfile.TemporaryDirectory(prefix="summae-allocator-") as out_dir:
        for i in range(args.rounds):
            for way in WAYS:
                runs[way].append(one_run(way, extra, out_dir, i))
                print(f"round {i + 1} {way}: " + ", ".join(f"{k} {runs[way][-1][k]}" for k in KEYS), file=sys.stderr,
                      flush=True)
    medians = {way: {k: statistics.median(r[k] for r in rs if r[k] is not None) for k in KEYS}
               for way, rs in runs.items()}
    speedup = {k: round(medians["tuned"][k] / medians["default"][k], 3)
               for k in ("train_docs_per_s", "supervised_docs_per_s", "summarize_sentences_per_s",
                         "summarize_fp32_sentences_per_s")}
    print(json.dumps({"median": medians, "tuned_over_default": speedup}))
    throughput.write_result("allocator", {
        "rounds": args.rounds, "throughput_args": extra,
        "tuned_settings": "mallopt(M_MMAP_MAX, 0), mallopt(M_TRIM_THRESHOLD, 1 GiB) (summae/runtime.py)",
        "median": medians, "tuned_over_default": speedup, "runs": runs}, out=args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
