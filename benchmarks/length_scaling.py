"""Length scaling: training and summarizing speed, peak memory and model FLOPs at 64, 256 and 1,024 source tokens.

    python benchmarks/length_scaling.py [--device cpu|cuda] [--lengths 64 256 1024] [--window 256]
        [--batch-size B] [--summarize-batch-size B] [--iters N] [--warmup N] [--summarize-docs N]
        [--data-dir DIR] [--set k=v ...] [--out FILE] [--quick]

The model is the recipe's (summae/configs/throughput.yaml: d256, 3+3 layers, 8,000 pieces, extraction
pseudo-summaries) with summaries up to 40 words (summary.max_words 40, model.max_summary_tokens 56) at every
length; only model.max_source_tokens changes. The documents are 40 Gigaword article sentences each, joined
(~1,600 tokens), so every document is cut to the length measured: the same texts, the same padding-free
shapes at each length. One SentencePiece tokenizer is trained first and shared (not timed).

Each length runs in a process of its own, so its peak memory is its own:
(a) `Trainer.train_step` in the main phase (write summaries, discriminator step, generator step, with the
    extraction search for the pseudo-summaries), the median of --iters steps after --warmup;
(b) `Summarizer` with the default decoding (greedy, summary.default_words = 20 words, `summae summarize`'s
    precision) over --summarize-docs documents, the median of 3 passes after one warm-up batch.
--window N adds a run at the longest length with model.rec_target_tokens = N (the reconstructor rebuilds an
N-token window: summae.model.autoencoder.SummaeModel.rec_target); 0 skips it.

Memory: on CPU the peak RSS of each phase (VmHWM, reset through /proc/self/clear_refs after malloc_trim before
the phase; where that is refused, the process's peak so far); on a GPU torch.cuda.max_memory_allocated, reset
before the phase. Beside each peak, what was resident when the phase began: the difference is the phase's own.

The issue's target: per-document time at 1,024 tokens <= 1.25 x (FLOPs(1,024) / FLOPs(64)) x the time at 64,
FLOPs from the model's shape (FLOPS_FORMULA, written into the JSON). Writes
benchmarks/results/length-scaling-<YYYYMMDD>-<hardware>.json (or --out; --quick: a temp file) and prints a
markdown table. On a GPU: `python benchmarks/length_scaling.py --device cuda` (batch 256, bf16 autocast).
--quick: a d32 model, 1 timed step, a few documents: checks that the script runs, measures nothing.
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import throughput  # the result writer (commit, date, hardware), the clock, the parameter groups

ROOT = throughput.ROOT
SENTENCES_PER_DOC = 40  # Gigaword sentences joined into one document: ~1,600 tokens, more than the longest length
LONG = ["model.max_summary_tokens=56", "summary.min_words=5", "summary.max_words=40", "summary.default_words=20",
        "train.pseudo=extract", "train.bucket_batches=0"]
QUICK = ["model.d_model=32", "model.encoder_layers=1", "model.decoder_layers=1", "model.heads=2", "model.ffn_dim=64",
         "model.disc_d_model=16", "model.disc_filters=16"]
FLOPS_FORMULA = (
    "per document, from the model's shape; a pass with a backward counts 3 x its forward. Ls = L + 1 (the length "
    "token), L = model.max_source_tokens, S = model.max_summary_tokens (the padded width the training passes run "
    "at), Sw = the summary tokens summarizing wrote (mean, EOS included), R = the reconstructor's target "
    "(min(L, model.rec_target_tokens), or L). Pe/Pd = encoder/decoder parameters without embeddings, ne/nd their "
    "layers, D = d_model, H = V*D (tied output head), C = copy head, Dc = discriminator without embedding. "
    "enc(T) = 2*Pe*T + 4*ne*T^2*D; dec(T, M) = 2*Pd*T + 4*nd*(T^2 + T*M)*D (self- and cross-attention scores "
    "and weighted sums); head(T) = 2*(H + C)*T. train = dec(S, Ls) + head(S) [writing, no grad] + 3*(enc(Ls) + "
    "2*(dec(S, Ls) + head(S)) [sampled and pseudo-summary rows] + enc(S) + dec(R, S) + 2*H*R [reconstructor]) + "
    "6*Dc*3*S [discriminator step and adversarial loss]; summarize = enc(Ls) + dec(Sw, Ls) + head(Sw). Left out: "
    "softmax, norms, the copy head's attention over the document (2*S*Ls*D), the extraction search (not model "
    "FLOPs; its time is in the training step)")


def flops_per_doc(p: dict, *, ne: int, nd: int, d: int, ls: int, s: int, sw: float, r: int) -> dict[str, float]:
    """FLOPS_FORMULA; p: benchmarks/throughput.param_counts."""
    def enc(t):
        return 2 * p["Pe"] * t + 4 * ne * t * t * d

    def dec(t, m):
        return 2 * p["Pd"] * t + 4 * nd * (t * t + t * m) * d

    def head(t):
        return 2 * (p["H"] + p["C"]) * t

    write = dec(s, ls) + head(s)
    g_forward = enc(ls) + 2 * (dec(s, ls) + head(s)) + enc(s) + dec(r, s) + 2 * p["H"] * r
    return {"train": write + 3 * g_forward + 6 * p["Dc"] * 3 * s, "summarize": enc(ls) + dec(sw, ls) + head(sw)}


# ---- the parent: data, tokenizer, one child per length, the report ---------------------------------------------
def make_documents(data_dir: Path, n: int, out: Path) -> None:
    """n documents of SENTENCES_PER_DOC random Gigaword article sentences each, as jsonl."""
    sentences = [s for s in (data_dir / "gigaword" / "train.article.txt").read_text(encoding="utf-8").splitlines()
                 if s.strip()]
    rng = random.Random(0)
    with out.open("w", encoding="utf-8") as handle:
        for _ in range(n):
            handle.write(json.dumps({"document": " ".join(rng.sample(sentences, SENTENCES_PER_DOC))}) + "\n")


def make_tokenizer(data_dir: Path, vocab_size: int, out: Path) -> None:
    from summae.tokenization import train_sentencepiece

    articles = (data_dir / "gigaword" / "train.article.txt").read_text(encoding="utf-8").splitlines()[:16000]
    headlines = (data_dir / "gigaword" / "train.headline.txt").read_text(encoding="utf-8").splitlines()[:4000]
    train_sentencepiece(articles + headlines, vocab_size=vocab_size, max_words=40).save_pretrained(str(out))


def run_child(spec: dict) -> dict:
    """One length in a process of its own: its JSON result (the last line of its stdout)."""
    begin = time.perf_counter()
    proc = subprocess.run([sys.executable, __file__, "--child", json.dumps(spec)], stdout=subprocess.PIPE,
                          text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    if proc.returncode != 0 or not proc.stdout.strip():
        raise SystemExit(f"error: the run at {spec['label']} failed (exit {proc.returncode})")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["process_seconds"] = round(time.perf_counter() - begin, 1)
    return result


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--lengths", type=int, nargs="+", default=[64, 256, 1024], help="model.max_source_tokens")
    parser.add_argument("--window", type=int, default=256,
                        help="also the longest length with model.rec_target_tokens=N; 0 = no such run")
    parser.add_argument("--batch-size", type=int, help="training batch (default 16 on cpu, 256 on cuda)")
    parser.add_argument("--summarize-batch-size", type=int, help="default 16 on cpu, 256 on cuda")
    parser.add_argument("--summarize-docs", type=int, help="documents summarized (default 64 on cpu, 2048 on cuda)")
    parser.add_argument("--iters", type=int, default=5, help="timed training steps per length, >= 1")
    parser.add_argument("--warmup", type=int, default=1, help="untimed training steps before them")
    parser.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data"), help="folder holding gigaword/")
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE")
    parser.add_argument("--out", help="result JSON (default benchmarks/results/length-scaling-DATE-HW.json)")
    parser.add_argument("--quick", action="store_true", help="a d32 model, 1 step, few documents: a smoke test")
    parser.add_argument("--child", help=argparse.SUPPRESS)  # internal: one length, spec as JSON
    args = parser.parse_args(argv)
    if args.iters < 1 or args.warmup < 0 or min(args.lengths) < 8 or args.window < 0:
        parser.error("--iters must be >= 1, --warmup and --window >= 0, --lengths >= 8")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.child:
        print(json.dumps(measure(json.loads(args.child))))
        return 0
    gpu = args.device == "cuda"
    batch = args.batch_size or (4 if args.quick else 256 if gpu else 16)
    sum_batch = args.summarize_batch_size or (4 if args.quick else 256 if gpu else 16)
    n_sum = args.summarize_docs or (8 if args.quick else 2048 if gpu else 64)
    iters, warmup = (1, 0) if args.quick else (args.iters, args.warmup)
    data_dir = Path(args.data_dir).resolve()
    load_before = throughput.load_average()
    with tempfile.TemporaryDirectory(prefix="summae-length-") as tmp:
        tmp = Path(tmp)
        echo(f"documents and tokenizer (not timed) in {tmp}")
        make_documents(data_dir, max(batch * (iters + warmup), n_sum, 32 if args.quick else 256), tmp / "docs.jsonl")
        make_tokenizer(data_dir, 1000 if args.quick else 8000, tmp / "tokenizer")
        sets = [f"data.data_dir={data_dir}", f"data.train_files=[{tmp / 'docs.jsonl'}]", "data.text_field=document",
                f"tokenizer.path={tmp / 'tokenizer'}", f"train.batch_size={batch}", *LONG]
        sets += ["train.mixed_precision=bf16"] if gpu else ["train.mixed_precision=no"]  # as throughput.py
        sets += (QUICK if args.quick else []) + list(args.set)
        runs = [(length, 0) for length in args.lengths] + ([(max(args.lengths), args.window)] if args.window else [])
        results = []
        for length, window in runs:
            label = f"{length} tokens" + (f", window {window}" if window else "")
            echo(f"{label}: {warmup} + {iters} training steps of {batch}, summarizing {n_sum} documents")
            spec = {"label": label, "device": args.device, "iters": iters, "warmup": warmup,
                    "docs": str(tmp / "docs.jsonl"), "summarize_docs": n_sum, "summarize_batch_size": sum_batch,
                    "out_dir": str(tmp / f"run-{length}-{window}"),
                    "sets": sets + [f"model.max_source_tokens={length}", f"model.rec_target_tokens={window}"]}
            results.append(run_child(spec))
    report = compare(results)
    print(table(results, report))
    suffix = f"; load average {load_before} before the run, {throughput.load_average()} after (1, 5, 15 min)" \
        if not gpu else ""
    out = args.out or (str(Path(tempfile.gettempdir()) / "length-scaling-quick.json") if args.quick else None)
    fields = {"quick": args.quick, "batch_size": batch, "summarize_batch_size": sum_batch, "summarize_docs": n_sum,
              "iters": iters, "warmup": warmup, "sentences_per_document": SENTENCES_PER_DOC,
              "config_overrides": sets, "memory_kind": results[0]["memory_kind"], "flops_formula": FLOPS_FORMULA,
              "target": "t(1024)/t(64) <= 1.25 x FLOPs(1024)/FLOPs(64), per document", "target_check": report,
              "runs": results, "command": "python benchmarks/length_scaling.py " + " ".join(argv or sys.argv[1:])}
    path = throughput.write_result("length-scaling", fields, out=out, device=args.device, detail_suffix=suffix)
    if args.quick:
        echo(f"--quick: a smoke test, not a measurement ({path})")
    return 0


def compare(results: list[dict]) -> dict:
    """Per phase: time and FLOPs ratios of each run against the shortest length, and whether the target holds."""
    base = min((r for r in results if not r["rec_target_tokens"]), key=lambda r: r["max_source_tokens"])
    out = {}
    for r in results:
        if r is base:
            continue
        key = f"{r['max_source_tokens']}" + (f"_window{r['rec_target_tokens']}" if r["rec_target_tokens"] else "")
        for phase in ("train", "summarize"):
            time_ratio = r[f"{phase}_ms_per_doc"] / base[f"{phase}_ms_per_doc"]
            flops_ratio = r["flops_per_doc"][phase] / base["flops_per_doc"][phase]
            out[f"{phase}_{key}_vs_{base['max_source_tokens']}"] = {
                "time_ratio": round(time_ratio, 2), "flops_ratio": round(flops_ratio, 2),
                "limit": round(1.25 * flops_ratio, 2), "met": time_ratio <= 1.25 * flops_ratio}
    return out


def table(results: list[dict], report: dict) -> str:
    def memory(r, phase):  # the peak, and in brackets what the phase added to what was resident before it
        return f"{r['peak_mb'][phase]:.0f} (+{r['peak_mb'][phase] - r['resident_mb_before'][phase]:.0f})"

    rows = ["| source tokens | reconstructor target | train docs/s | summarize docs/s | peak MB train (+ own) | "
            "peak MB summarize (+ own) | GFLOP/doc train | GFLOP/doc summarize |", "|---" * 8 + "|"]
    for r in results:
        rows.append(f"| {r['max_source_tokens']} | {r['rec_target_tokens'] or 'whole'} | {r['train_docs_per_s']} | "
                    f"{r['summarize_docs_per_s']} | {memory(r, 'train')} | {memory(r, 'summarize')} | "
                    f"{r['flops_per_doc']['train'] / 1e9:.2f} | {r['flops_per_doc']['summarize'] / 1e9:.2f} |")
    rows += ["", "| per-document time against the shortest | time ratio | FLOPs ratio | limit (1.25 x) | met |",
             "|---|---|---|---|---|"]
    rows += [f"| {k} | {v['time_ratio']} | {v['flops_ratio']} | {v['limit']} | {'yes' if v['met'] else 'no'} |"
             for k, v in report.items()]
    return "\n".join(rows)


def echo(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


# ---- the child: one length ---------------------------------------------------------------------------------
class PhaseMemory:
    """Memory of one phase: its peak, and what was resident when it began (the trainer's model, optimizer and data
    when summarizing), so peak - before is the phase's own. CPU: VmHWM reset through /proc/self/clear_refs, after
    glibc has handed freed memory back (malloc_trim), so the peak is not the allocator's cache of the phase
    before; GPU: torch.cuda.max_memory_allocated, reset before the phase."""

    def __init__(self, device: str):
        import torch

        self.torch, self.cuda = torch, device == "cuda"
        self.resettable = self.cuda or self._reset_rss()
        self.kind = ("torch.cuda.max_memory_allocated, reset before each phase" if self.cuda else
                     "peak RSS of the phase (VmHWM, reset through /proc/self/clear_refs after malloc_trim)"
                     if self.resettable else "peak RSS of the process so far (ru_maxrss): clear_refs was refused")

    @staticmethod
    def _reset_rss() -> bool:
        try:
            Path("/proc/self/clear_refs").write_text("5")
            return True
        except OSError:
            return False

    def start(self) -> float:
        """Begin a phase; returns the memory resident now, MB."""
        gc.collect()
        if self.cuda:
            self.torch.cuda.empty_cache()
            self.torch.cuda.reset_peak_memory_stats()
            return round(self.torch.cuda.memory_allocated() / 2**20, 1)
        try:
            ctypes.CDLL("libc.so.6").malloc_trim(0)
        except (OSError, AttributeError):  # not glibc: the allocator's cache stays in the numbers
            pass
        if self.resettable:
            self._reset_rss()
        return self._status("VmRSS:")

    def peak_mb(self) -> float:
        if self.cuda:
            return round(self.torch.cuda.max_memory_allocated() / 2**20, 1)
        if self.resettable:
            return self._status("VmHWM:")
        return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)

    @staticmethod
    def _status(field: str) -> float:
        lines = Path("/proc/self/status").read_text().splitlines()
        return round(int(next(line for line in lines if line.startswith(field)).split()[1]) / 1024, 1)


def measure(spec: dict) -> dict:
    import copy

    import torch

    from summae.cli import quiet_libraries
    from summae.config import load_config
    from summae.runtime import tune_cpu_allocator
    from summae.summarize import Summarizer
    from summae.tokenization import encode_texts
    from summae.train.trainer import Trainer

    quiet_libraries()
    tune_cpu_allocator()  # as `summae` does at start-up
    device = spec["device"]
    clock, memory = throughput.Clock(device), PhaseMemory(device)
    cfg = load_config("throughput", spec["sets"])
    trainer = Trainer(cfg, spec["out_dir"], device="cpu" if device == "cpu" else "auto", echo=echo, progress=False)
    model, acc, t = trainer.accelerator.unwrap_model(trainer.model), trainer.accelerator, cfg.train
    batches = [b.to(acc.device) for b, _ in zip(trainer.batches.iterate(0), range(spec["warmup"] + spec["iters"]))]
    tokens = statistics.mean(int((b != model.vocab.pad_id).sum()) / b.shape[0] for b in batches)
    reals = trainer.real_batches.iterate(0) if trainer.real_batches is not None else None
    gen = torch.Generator().manual_seed(t.seed)
    # (a) training steps in the main phase, as benchmarks/throughput.py times them
    before = {"train": memory.start()}
    seconds = throughput.timed_steps(lambda i, b: trainer.train_step(t.pretrain_steps + i, b, reals, gen), batches,
                                     warmup=spec["warmup"], clock=clock)
    peak = {"train": memory.peak_mb()}
    # (b) summarizing, the default decoding of `summae summarize`
    texts = [json.loads(line)["document"] for line in Path(spec["docs"]).read_text(encoding="utf-8").splitlines()]
    texts = texts[: spec["summarize_docs"]]
    bs = spec["summarize_batch_size"]
    summarizer = Summarizer(cfg, trainer.tokenizer, copy.deepcopy(model), device=acc.device, precision="auto")
    summarizer(texts[:bs], batch_size=bs)  # warm-up, untimed
    before["summarize"] = memory.start()
    passes = []
    for _ in range(3):
        begin = clock()
        summaries = summarizer(texts, batch_size=bs)
        passes.append(clock() - begin)
    peak["summarize"] = memory.peak_mb()
    written = statistics.mean(len(x) + 1 for x in encode_texts(trainer.tokenizer, summaries, 10_000)[0])
    m = cfg.model
    params = throughput.param_counts(model, trainer.accelerator.unwrap_model(trainer.disc))
    target = min(m.max_source_tokens, m.rec_target_tokens or m.max_source_tokens)
    flops = flops_per_doc(params, ne=m.encoder_layers, nd=m.decoder_layers, d=m.d_model, ls=m.max_source_tokens + 1,
                          s=m.max_summary_tokens, sw=written, r=target)
    step, whole = statistics.median(seconds), statistics.median(passes)
    return {"max_source_tokens": m.max_source_tokens, "rec_target_tokens": m.rec_target_tokens,
            "source_tokens_per_doc": round(tokens, 1), "summary_tokens_written": round(written, 1),
            "summary_words_written": round(statistics.mean(len(s.split()) for s in summaries), 1),
            "train_docs_per_s": round(t.batch_size / step, 2), "train_ms_per_doc": round(1e3 * step / t.batch_size, 2),
            "train_step_ms": throughput.summary_ms(seconds),
            "summarize_docs_per_s": round(len(texts) / whole, 2),
            "summarize_ms_per_doc": round(1e3 * whole / len(texts), 2),
            "summarize_pass_seconds": [round(x, 3) for x in passes], "summarize_precision": summarizer.precision,
            "peak_mb": peak, "resident_mb_before": before, "memory_kind": memory.kind, "params": params,
            "flops_per_doc": {k: float(f"{v:.4g}") for k, v in flops.items()},
            "model_gflops_per_s": {"train": round(flops["train"] / (1e9 * step / t.batch_size), 2),
                                   "summarize": round(flops["summarize"] * len(texts) / (1e9 * whole), 2)},
            "config": cfg.to_dict()}


if __name__ == "__main__":
    raise SystemExit(main())
