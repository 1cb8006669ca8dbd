"""glibc's allocator as it comes against as `summae` tunes it (summae/runtime.py): the throughput benchmark, alternating.

    python benchmarks/allocator.py [--rounds 3] [--ways default,tuned] [--out FILE] [-- THROUGHPUT ARGS...]

The allocator is a setting of the whole process, so each measurement is a fresh `benchmarks/throughput.py
--device cpu` process, one per way, alternating for --rounds rounds so all ways see the same machine periods:
- default: `--default-allocator`, glibc as it comes and no huge pages;
- no-huge-pages: glibc tuned (mallopt) but THP_MEM_ALLOC_ENABLE=0 (tensors get 4 KiB pages);
- tuned: as the CLI runs (mallopt, and THP_MEM_ALLOC_ENABLE=1).
Reports each run's training, supervised and summarizing rates, the median per way and tuned over each other
way. Writes benchmarks/results/allocator-<YYYYMMDD>-cpu2.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import throughput  # noqa: E402  (sets HF_*_OFFLINE and sys.path like every benchmark)

KEYS = ("train_docs_per_s", "supervised_docs_per_s", "train_over_supervised_time", "summarize_sentences_per_s",
        "summarize_fp32_sentences_per_s", "peak_mem_mb")
WAYS = {"default": (["--default-allocator"], {}), "no-huge-pages": ([], {"THP_MEM_ALLOC_ENABLE": "0"}),
        "tuned": ([], {})}  # way: (throughput.py arguments, environment)


def one_run(way: str, extra: list[str], out_dir: str, i: int) -> dict:
    out = Path(out_dir) / f"{way}-{i}.json"
    args, env = WAYS[way]
    cmd = [sys.executable, str(ROOT / "benchmarks" / "throughput.py"), "--device", "cpu", "--out", str(out),
           *args, *extra]
    clean = {k: v for k, v in os.environ.items() if k != "THP_MEM_ALLOC_ENABLE" and not k.startswith("MALLOC_")}
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, env={**clean, **env})
    payload = json.loads(out.read_text())
    return {"allocator": payload["allocator"], "huge_pages": payload.get("huge_pages"),
            **{k: payload["configs"]["throughput"].get(k) for k in KEYS}}


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="runs per way, alternating, >= 1")
    parser.add_argument("--ways", default="default,tuned",
                        help=f"comma-separated, from {', '.join(WAYS)}; must include tuned")
    parser.add_argument("--out", help="result JSON (default benchmarks/results/allocator-DATE-cpu2.json)")
    args = parser.parse_args(argv[: argv.index("--")] if "--" in argv else argv)
    ways = [w for w in args.ways.split(",") if w]
    if args.rounds < 1:
        parser.error("--rounds must be >= 1")
    if "tuned" not in ways or any(w not in WAYS for w in ways) or len(set(ways)) != len(ways):
        parser.error(f"--ways: distinct names from {', '.join(WAYS)}, tuned among them")
    runs: dict[str, list[dict]] = {way: [] for way in ways}
    with tempfile.TemporaryDirectory(prefix="summae-allocator-") as out_dir:
        for i in range(args.rounds):
            for way in ways:
                runs[way].append(one_run(way, extra, out_dir, i))
                print(f"round {i + 1} {way}: " + ", ".join(f"{k} {runs[way][-1][k]}" for k in KEYS), file=sys.stderr,
                      flush=True)
    medians = {way: {k: statistics.median(r[k] for r in rs if r[k] is not None) for k in KEYS}
               for way, rs in runs.items()}
    rates = ("train_docs_per_s", "supervised_docs_per_s", "summarize_sentences_per_s", "summarize_fp32_sentences_per_s")
    speedup = {f"tuned_over_{way}": {k: round(medians["tuned"][k] / medians[way][k], 3) for k in rates}
               for way in ways if way != "tuned"}
    print(json.dumps({"median": medians, **speedup}))
    throughput.write_result("allocator", {
        "rounds": args.rounds, "ways": ways, "throughput_args": extra,
        "tuned_settings": "mallopt(M_MMAP_MAX, 0), mallopt(M_TRIM_THRESHOLD, 1 GiB), THP_MEM_ALLOC_ENABLE=1 "
                          "(summae/runtime.py)",
        "median": medians, **speedup, "runs": runs}, out=args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
