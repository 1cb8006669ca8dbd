"""Flat memory: peak RSS of the real CLI does not grow with the input.

    python benchmarks/memory.py [--lines 100000 1000000] [--train-gb 3] [--train-steps 20] [--cap-mb 2000]
        [--batch-size 256] [--workdir DIR] [--keep] [--out FILE]

Runs `summae` in subprocesses under an address-space cap (RLIMIT_AS, as `prlimit --as` sets it) and reads
each child's own peak RSS (os.wait4 rusage):
1. a tiny model (summae/configs/tiny.yaml, 2 steps): only the model's size matters here, not its quality;
2. `summae summarize` on generated files of --lines short lines each: equal peak RSS within 10%;
3. `summae train` with data.streaming=true on a generated --train-gb GB text file and on a 1/100 sized one,
   --train-steps steps: equal peak RSS within 10%, and far below the file's size (the cap is below it).
Writes benchmarks/results/memory-<YYYYMMDD>-<hardware>.json (with the commit, the hardware and the settings).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import throughput  # noqa: E402  (the result writer: commit, date, hardware)

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "summae" / "configs" / "tiny.yaml"
QUICK = ["tokenizer.train_sentences=400", "train.sample_every=0", "train.eval_every=0", "train.save_every=0"]


def run_capped(cmd: list[str], cap_mb: int, *, env: dict) -> dict:
    """Run cmd with RLIMIT_AS = cap_mb; its exit code, seconds and peak RSS (MB) from its own rusage."""
    limit = cap_mb * 2**20

    def cap():
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    begin = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, preexec_fn=cap, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    err = proc.stderr.read()  # drained while it runs, so a chatty child never blocks on a full pipe
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return {"exit_code": proc.returncode, "seconds": round(time.perf_counter() - begin, 1),
            "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),  # KB on Linux
            "stderr_tail": err.strip().splitlines()[-3:] if proc.returncode else []}


def word_pool() -> list[str]:
    """Words of the bundled corpus, so the generated lines tokenize like text."""
    words = set()
    with open(ROOT / "summae" / "data" / "debian" / "train.jsonl", encoding="utf-8") as handle:
        for line in handle:
            words.update(json.loads(line)["document"].lower().split())
    return sorted(words)


def write_lines(path: Path, n: int, words: list[str], *, seed: int) -> None:
    """n lines of 6-14 random words."""
    rng = random.Random(seed)
    with open(path, "w", encoding="utf-8") as handle:
        for _ in range(n):
            handle.write(" ".join(rng.choices(words, k=rng.randint(6, 14))) + "\n")


def write_big(path: Path, size_bytes: int, words: list[str], *, seed: int) -> None:
    """A text file of about size_bytes: 4 MB blocks of random lines, each block shuffled anew."""
    rng = random.Random(seed)
    lines = [" ".join(rng.choices(words, k=rng.randint(8, 40))) for _ in range(20000)]
    written = 0
    with open(path, "w", encoding="utf-8") as handle:
        while written < size_bytes:
            rng.shuffle(lines)
            block = "\n".join(lines) + "\n"
            handle.write(block)
            written += len(block)


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "summae.cli", *args]


def sets(items: list[str]) -> list[str]:
    return [arg for item in items for arg in ("--set", item)]


def flat(a: dict, b: dict) -> dict:
    ratio = b["peak_rss_mb"] / a["peak_rss_mb"]
    return {"peak_rss_ratio": round(ratio, 3), "within_10_percent": abs(ratio - 1) <= 0.10}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lines", type=int, nargs=2, default=[100_000, 1_000_000], help="the two summarize sizes")
    parser.add_argument("--train-gb", type=float, default=3.0, help="size of the streamed training file")
    parser.add_argument("--train-steps", type=int, default=20)
    parser.add_argument("--cap-mb", type=int, default=2000, help="RLIMIT_AS of every child (MB)")
    parser.add_argument("--batch-size", type=int, default=256, help="summarize --batch-size")
    parser.add_argument("--workdir", help="where the generated files go (default: a temporary directory)")
    parser.add_argument("--keep", action="store_true", help="keep the generated files")
    parser.add_argument("--out", help="result JSON (default benchmarks/results/memory-DATE-HW.json)")
    args = parser.parse_args(argv)
    if min(args.lines) < 1 or args.train_gb <= 0 or args.train_steps < 1 or args.cap_mb < 256:
        parser.error("--lines and --train-steps must be >= 1, --train-gb > 0, --cap-mb >= 256")
    work = Path(args.workdir or tempfile.mkdtemp(prefix="summae-memory-"))
    work.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
           "PYTHONPATH": str(ROOT), "HF_DATASETS_CACHE": str(work / "hf_cache"),
           # Arrow's default jemalloc pool reserves far more address space than it uses, which an RLIMIT_AS
           # cap counts; the system allocator keeps address space close to resident memory
           "ARROW_DEFAULT_MEMORY_POOL": "system",
           # one thread per child: memory does not depend on it, and on a shared machine it avoids thrashing
           "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    say = lambda s: print(s, file=sys.stderr, flush=True)  # noqa: E731
    try:
        result = measure(args, work, env, say)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    fields = {"load_average": [round(x, 2) for x in os.getloadavg()],
              "config": {"lines": args.lines, "train_gb": args.train_gb, "train_steps": args.train_steps,
                         "cap_mb": args.cap_mb, "summarize_batch_size": args.batch_size,
                         "model_config": "summae/configs/tiny.yaml"},
              **result}
    throughput.write_result("memory", fields, out=args.out)
    ok = all(v["exit_code"] == 0 for v in result["runs"].values())
    print(json.dumps({k: result[k] for k in ("summarize_flat", "train_flat")}))
    return 0 if ok else 1


def measure(args, work: Path, env: dict, say) -> dict:
    words = word_pool()
    runs: dict[str, dict] = {}
    say("tiny model (2 steps)")
    model = work / "model"
    tiny = QUICK + ["train.steps=2", "train.pretrain_steps=1"]
    runs["train_tiny_model"] = run_capped(cli("train", "--config", str(TINY), "--output-dir", str(model), "--quiet",
                                              "--device", "cpu", *sets(tiny)), args.cap_mb, env=env)
    for n in args.lines:
        path = work / f"lines-{n}.txt"
        write_lines(path, n, words, seed=n)
        say(f"summarize {n} lines")
        runs[f"summarize_{n}"] = run_capped(cli("summarize", "--model", str(model), "--input", str(path), "--output",
                                                str(path) + ".out", "--device", "cpu", "--quiet",
                                                "--batch-size", str(args.batch_size)), args.cap_mb, env=env)
        output = work / f"{path.name}.out"
        produced = sum(1 for _ in open(output, encoding="utf-8")) if output.exists() else 0
        runs[f"summarize_{n}"].update(lines=n, output_lines=produced,
                                      lines_per_s=round(n / runs[f"summarize_{n}"]["seconds"], 1))
        output.unlink(missing_ok=True)
    big_bytes = int(args.train_gb * 1e9)
    for name, size in (("small", big_bytes // 100), ("big", big_bytes)):
        path = work / f"train-{name}.txt"
        say(f"writing {size / 1e9:.2f} GB of training text")
        write_big(path, size, words, seed=1)
        say(f"train streaming {path.stat().st_size / 1e9:.2f} GB, {args.train_steps} steps")
        train_sets = QUICK + [f"data.train_files=[{path}]", "data.streaming=true", f"train.steps={args.train_steps}",
                              "train.pretrain_steps=2", "train.log_every=10"]
        runs[f"train_stream_{name}"] = run_capped(cli("train", "--config", str(TINY), "--output-dir",
                                                      str(work / f"run-{name}"), "--quiet", "--device", "cpu",
                                                      *sets(train_sets)), args.cap_mb, env=env)
        runs[f"train_stream_{name}"]["file_bytes"] = path.stat().st_size
        path.unlink()
    small, large = (runs[f"summarize_{n}"] for n in args.lines)
    return {"cap_mb": args.cap_mb, "cap_kind": "RLIMIT_AS (address space) of each child, as prlimit --as",
            "peak_kind": "the child's own ru_maxrss (os.wait4)",
            "env": "ARROW_DEFAULT_MEMORY_POOL=system OMP_NUM_THREADS=1", "summarize_batch_size": args.batch_size,
            "train_steps": args.train_steps, "model": "summae/configs/tiny.yaml trained 2 steps",
            "summarize_flat": flat(small, large),
            "train_flat": {**flat(runs["train_stream_small"], runs["train_stream_big"]),
                           "big_file_mb": round(runs["train_stream_big"]["file_bytes"] / 2**20),
                           "peak_rss_over_file_size": round(runs["train_stream_big"]["peak_rss_mb"] * 2**20
                                                            / runs["train_stream_big"]["file_bytes"], 4)},
            "runs": runs}


if __name__ == "__main__":
    raise SystemExit(main())
