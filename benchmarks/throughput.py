"""Throughput: one training step vs a supervised step of the same compressor, and the default summarizing.

    python benchmarks/throughput.py [--config summae/configs/throughput.yaml] [--device cpu|cuda] [--out FILE]
        [--iters N] [--warmup N] [--batch-size B] [--sentences N] [--data-dir DIR] [--set k=v ...]
        [--default-allocator]

(a) `Trainer.train_step` in the main phase (the compressor writes summaries without gradient, a discriminator
step, then the generator step: compressor + reconstructor + adversarial loss, optimizer step);
(b) a supervised step of the same compressor on the same batches: teacher forcing on the lead pseudo-summary
(`compressor(..., labels=lead).loss`), backward, gradient clipping and AdamW on its parameters, same autocast;
(c) `Summarizer` with the default decoding (greedy, summary.default_words words) over dev sentences.
(a) and (b) report the median of --iters timed steps after --warmup untimed ones; they alternate, a training
step then a supervised step on the same batch, so that drift of the machine's speed moves both alike. Writes
benchmarks/results/throughput-<YYYYMMDD>-<hardware>.json (or --out), with the commit and the hardware.

Data: --data-dir names a folder holding gigaword/ with train.article.txt, train.headline.txt, dev.article.txt
and dev.title.txt (default ../shared/data). Training the SentencePiece tokenizer and tokenizing the corpus
come first and are not timed.

On the CPU: `python benchmarks/throughput.py --device cpu` (batch 64, fp32, 2048 summarized sentences; the
CLI's allocator tuning unless --default-allocator).

On a GPU: `python benchmarks/throughput.py --device cuda` (batch 2048, bf16 autocast, 20000 summarized
sentences). On a GPU machine without a package registry or the shared data folder, prepare both with
`bash scripts/make_gigaword_devdata.sh` (.devdata/ and .whl/), copy the tree with them to that machine and
run `bash scripts/gpu_job.sh` there: it installs the wheels and runs this script with `--data-dir .devdata`.
Where the copied tree has no usable .git, set SUMMAE_COMMIT to the commit it was copied from, so the result
records it.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

PEAK_BF16_FLOPS = 989e12  # H100 / H200 SXM dense bf16 (no sparsity)
REFERENCE = {  # the numbers for a naive eager implementation, 2 CPU cores, batch 64
    "train_docs_per_s": 26.8, "supervised_docs_per_s": 107.9, "train_over_supervised_time": 4.0,
    "summarize_sentences_per_s": 222}
FLOPS_FORMULA = (
    "6 * params * tokens for passes with a backward, 2 * params * tokens for no-grad passes; attention scores, "
    "softmax and the copy head's (T, L) attention are left out; tokens are padded widths: Ls = max_source_tokens + 1 "
    "(length token), L = max_source_tokens, S = max_summary_tokens. Pe/Pd = encoder/decoder params without "
    "embeddings, H = V*D (tied output head), C = copy head, Dc = discriminator convolutions + output, De = its "
    "V*d embedding. train = 2*(Pd+H+C)*S [write summary: it reuses the G forward's encoder pass] + 6*Dc*2S "
    "[D step] + 6*(Pe*Ls + (Pd+H+C)*2S "
    "[compressor: sampled + lead rows] + Pe*S + Pd*L + H*Lt [reconstructor; its output head runs on the Lt "
    "labelled tokens per document only, the batches' mean, since 2026-11-30] + Dc*S [D on the summaries]) + "
    "2*(H+De)*S [the one-hots' gradient through the two embeddings: the hard one-hots are embedded by lookup and "
    "their weight gradients scattered, on every device since 2026-11-30; before, 6*(H+De)*S on GPUs]; "
    "supervised = 6*(Pe*Ls + (Pd+H)*S); summarize = 2*(Pe*Ls + (Pd+H+C)*S) per sentence")


# ---- where and what ---------------------------------------------------------------------------------------
def hardware(device: str) -> tuple[str, str]:
    import torch

    if device == "cuda":
        name = torch.cuda.get_device_name(0)
        short = "h200" if "H200" in name else "h100" if "H100" in name else name.lower().replace(" ", "-")
        return short, f"{name}, torch {torch.__version__}, CUDA {torch.version.cuda}"
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    info = dict(line.split(":", 1) for line in reversed(_read("/proc/cpuinfo").splitlines()) if ":" in line)
    info = {key.strip(): value.strip() for key, value in info.items()}  # the first processor's fields
    model, flags = info.get("model name", "unknown CPU"), set(info.get("flags", "").split())
    threads = torch.get_num_threads()
    bf16 = "AMX" if "amx_bf16" in flags else "AVX512-BF16" if "avx512_bf16" in flags else "none"
    # "cpu2" machines differ between sessions (Intel with AMX, AMD EPYC without): compare within one only
    return f"cpu{cores}", (f"{cores} cores of {model}, native bf16: {bf16}, {threads} torch threads, "
                           f"torch {torch.__version__}")


def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError:
        return ""


def write_result(name: str, fields: dict, *, out: str | None = None, device: str = "cpu",
                 detail_suffix: str = "", tag: str = "") -> Path:
    """benchmarks/results/<name>-<YYYYMMDD>-<hardware>[-<tag>].json, or `out`: benchmark, commit, date and
    hardware first, then `fields`. Returns the path."""
    hw, detail = hardware(device)
    payload = {"benchmark": name, "commit": commit(), "date": dt.date.today().isoformat(), "hardware": hw,
               "hardware_detail": detail + detail_suffix, **fields}
    stem = f"{name}-{dt.date.today():%Y%m%d}-{hw}" + (f"-{tag}" if tag else "")
    path = Path(out) if out else ROOT / "benchmarks" / "results" / f"{stem}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {path}", file=sys.stderr)
    return path


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def commit() -> str:
    """$SUMMAE_COMMIT when set (the GPU machine: its copy of the tree may carry a stale .git), else HEAD
    (+ -dirty when tracked files differ)."""
    if os.environ.get("SUMMAE_COMMIT"):
        return os.environ["SUMMAE_COMMIT"]
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
        if head.returncode == 0:
            status = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True,
                                    text=True).stdout.splitlines()
            # changed tracked files, or new code (an uncommitted benchmark is not in HEAD); new results are not
            dirty = any(not line.startswith("??") or line.rstrip().endswith(".py") for line in status)
            return head.stdout.strip() + ("-dirty" if dirty else "")
    except OSError:
        pass
    return "unknown"


# ---- timing -------------------------------------------------------------------------------------------------
class Clock:
    """perf_counter that first waits for the GPU, so a step's time includes its kernels."""

    def __init__(self, device: str):
        import torch

        self.sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)

    def __call__(self) -> float:
        self.sync()
        return time.perf_counter()


def timed_steps(step_fn, batches, *, warmup: int, clock: Clock) -> list[float]:
    """step_fn(i, batch) for each batch; seconds of the steps after the first `warmup`."""
    seconds = []
    for i, batch in enumerate(batches):
        begin = clock()
        step_fn(i, batch)
        if i >= warmup:
            seconds.append(clock() - begin)
    return seconds


def interleaved_steps(train_fn, sup_fn, model, batches, *, warmup: int, clock: Clock, memory: PeakMemory):
    """(a) and (b) in turn: a training step, then a supervised step on the same batch. This VM's speed drifts
    by 10-40% within minutes, and timed as two blocks the ratio of the two steps moved with it (3.0 to 3.8 at
    one commit); alternating, both see the same machine. Returns the seconds of each after `warmup`, and the
    peak memory of each (on CPU the process's peak so far for both, see PeakMemory)."""
    train_s, sup_s, peaks = [], [], {"train": 0.0, "supervised": 0.0}
    for i, batch in enumerate(batches):
        for kind, fn, seconds in (("train", train_fn, train_s), ("supervised", sup_fn, sup_s)):
            if kind == "supervised":
                model.train()
            memory.start()
            begin = clock()
            fn(i, batch)
            if i >= warmup:
                seconds.append(clock() - begin)
            peaks[kind] = max(peaks[kind], memory.mb())
    return train_s, sup_s, peaks["train"], peaks["supervised"]


def summary_ms(seconds: list[float]) -> dict:
    return {"median": round(1e3 * statistics.median(seconds), 2), "min": round(1e3 * min(seconds), 2),
            "max": round(1e3 * max(seconds), 2), "n": len(seconds)}


class PeakMemory:
    """Peak memory per phase: torch.cuda.max_memory_allocated on GPU; on CPU the process's peak RSS so far
    (ru_maxrss only grows, so a CPU phase's number includes start-up and the phases before it)."""

    def __init__(self, device: str):
        import torch

        self.torch, self.cuda = torch, device == "cuda"
        self.kind = ("torch.cuda.max_memory_allocated, reset before each phase; before_timing: "
                     "memory_allocated once the trainer is built" if self.cuda else
                     "peak RSS of the process so far (resource.getrusage ru_maxrss), start-up (corpus, "
                     "tokenizer) included; before_timing: VmRSS once the trainer is built")

    def start(self) -> None:
        if self.cuda:
            self.torch.cuda.reset_peak_memory_stats()

    def current_mb(self) -> float | None:
        """Resident memory now (CPU: VmRSS), to tell start-up memory from the phases' peaks."""
        if self.cuda:
            return round(self.torch.cuda.memory_allocated() / 2**20, 1)
        rss = [line.split()[1] for line in _read("/proc/self/status").splitlines() if line.startswith("VmRSS:")]
        return round(int(rss[0]) / 1024, 1) if rss else None

    def mb(self) -> float:
        if self.cuda:
            return round(self.torch.cuda.max_memory_allocated() / 2**20, 1)
        return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # KB on Linux


# ---- FLOPs --------------------------------------------------------------------------------------------------
def param_counts(model, disc) -> dict[str, int]:
    """The parameter groups of FLOPS_FORMULA (compressor and reconstructor share one architecture)."""
    def count(module, skip=()):
        return sum(p.numel() for n, p in module.named_parameters() if not n.startswith(skip))

    seq2seq = model.compressor
    embed = ("embed_tokens", "embed_positions")
    return {"Pe": count(seq2seq.get_encoder(), embed), "Pd": count(seq2seq.get_decoder(), embed),
            "H": seq2seq.get_input_embeddings().weight.numel(),
            "C": count(model.copy_head) if model.copy_head is not None else 0,
            "Dc": count(disc, ("embed",)), "De": disc.embed.weight.numel(),
            "total_generator": count(model), "total_discriminator": count(disc)}


def flops_per_doc(p: dict[str, int], *, Ls: int, L: int, S: int, Lt: float) -> dict[str, float]:
    pe, pd, h, c, dc, de = p["Pe"], p["Pd"], p["H"], p["C"], p["Dc"], p["De"]
    write = 2 * (pd + h + c) * S  # the train step's summaries decode from the G forward's encoder states
    d_step = 6 * dc * 2 * S
    g_step = 6 * (pe * Ls + (pd + h + c) * 2 * S + pe * S + pd * L + h * Lt + dc * S) + 2 * (h + de) * S
    return {"train": write + d_step + g_step, "supervised": 6 * (pe * Ls + (pd + h) * S),
            "summarize": 2 * pe * Ls + write}


# ---- where the training step spends its time ----------------------------------------------------------------
class Breakdown:
    """Wraps methods of live objects with timers; names nest ("d_step/backward"), times are inclusive."""

    def __init__(self, clock: Clock):
        self.clock, self.stack, self.total, self.undo = clock, [], {}, []

    def wrap(self, obj, attr: str, name: str) -> None:
        original = getattr(obj, attr)
        had_own = attr in vars(obj)

        def timed(*args, **kwargs):
            self.stack.append(name)
            key = "/".join(self.stack)
            begin = self.clock()
            try:
                return original(*args, **kwargs)
            finally:
                self.total[key] = self.total.get(key, 0.0) + self.clock() - begin
                self.stack.pop()

        setattr(obj, attr, timed)
        self.undo.append((obj, attr, original if had_own else None))

    def restore(self) -> None:
        for obj, attr, original in reversed(self.undo):
            if original is None:
                delattr(obj, attr)
            else:
                setattr(obj, attr, original)


def train_breakdown(trainer, model, batches, step0: int, reals, gen, clock: Clock) -> dict:
    """Mean ms per training step of each part, over `batches` (a separate, instrumented pass)."""
    acc = trainer.accelerator
    parts = Breakdown(clock)
    parts.wrap(model, "write_summary", "1_write_summary")  # inside 3_g_forward: it shares its encoder pass
    if trainer.writer is not None:  # CUDA graphs: a replay never calls write_summary
        parts.wrap(trainer, "writer", "1_write_summary_graphed")
    import summae.model.autoencoder as modeling

    parts.wrap(model, "_encode", "encode")
    parts.wrap(model.compressor, "forward", "compressor")  # in write_summary: one call per decoding step
    parts.wrap(model, "_rules", "length_rules")  # (B, V) masks per decoding step; (B, S, V) in the G forward
    parts.wrap(modeling, "repeat_mask", "repeat_mask")  # module-level helpers, looked up at call time
    parts.wrap(modeling, "straight_through", "straight_through")
    parts.wrap(modeling, "token_nll", "token_nll")
    parts.wrap(model, "reconstruction_loss", "reconstruction_loss")
    if model.copy_head is not None:
        parts.wrap(model.copy_head, "forward", "copy_head")
    parts.wrap(trainer, "_d_step", "2_d_step")
    parts.wrap(trainer.model, "forward", "3_g_forward")
    parts.wrap(trainer.disc, "forward", "disc_forward")
    parts.wrap(acc, "backward", "backward")
    parts.wrap(acc, "clip_grad_norm_", "clip_grad_norm")
    parts.wrap(trainer.opt_g, "step", "opt_g_step")
    parts.wrap(trainer.opt_d, "step", "opt_d_step")
    try:
        begin = clock()
        for i, batch in enumerate(batches):
            trainer.train_step(step0 + i, batch, reals, gen)
        whole = clock() - begin
    finally:
        parts.restore()
    n = len(batches)
    out = {key: round(1e3 * sec / n, 2) for key, sec in sorted(parts.total.items())}
    top = sum(sec for key, sec in parts.total.items() if "/" not in key)
    out["step_total"] = round(1e3 * whole / n, 2)
    out["rest_of_train_step"] = round(1e3 * (whole - top) / n, 2)  # targets, lead spans, .item() syncs, glue
    return out


def writer_inputs(trainer, model, doc_labels):
    """(enc, comp_ids, comp_mask, target) of a batch, as the training step hands them to its summary writer."""
    import torch

    # any valid word targets: the shapes and the writing are what matter here
    target = (model.word_start[doc_labels].sum(1) // 3).clamp(1, trainer.cfg.summary.max_words)
    comp_ids, comp_mask = model.compressor_inputs(doc_labels, doc_labels != model.vocab.pad_id, target)
    with torch.no_grad(), trainer.accelerator.autocast():
        enc = model.encode(comp_ids, comp_mask)
    return enc, comp_ids, comp_mask, target


@contextlib.contextmanager
def as_the_step_writes(trainer, model):
    """The state the training step writes its summaries in: the compressor's decoder in eval mode (the
    static-cache decoding), the step's autocast."""
    model.compressor.get_decoder().eval()
    try:
        with trainer.accelerator.autocast():
            yield
    finally:
        model.compressor.get_decoder().train(model.training)


def prime_train_writer(trainer, model, batches) -> dict:
    """Capture the training writer's graphs for every width among `batches` before timing (a long run captures
    each width once; a 13-step benchmark would otherwise time the captures), and a greedy graph of the first
    batch, which `graph_vs_eager` replays after the timed steps have changed the weights."""
    writer, temperature = trainer.writer, trainer.cfg.train.sample_temperature
    widths = {}
    for batch in batches:
        widths.setdefault(batch.shape[1], batch)
    calls = [(batch, temperature) for batch in widths.values()] + [(batches[0], 0.0)]
    for batch, temp in calls:
        args = writer_inputs(trainer, model, batch)
        with as_the_step_writes(trainer, model):
            for _ in range(2):  # eager, then the capture
                writer(*args, temp)
    return {"widths": sorted(widths), "captures": writer.captures, "enabled": writer.enabled}


def graph_vs_eager(trainer, model, batch) -> float:
    """Share of greedy summaries that the training writer's graph (captured before the timed steps, replayed
    now, after their optimizer steps moved the weights in place) writes as eager decoding does: 1.0 unless a
    replay reads stale weights."""
    enc, comp_ids, comp_mask, target = writer_inputs(trainer, model, batch)
    with as_the_step_writes(trainer, model):
        graphed = trainer.writer(enc, comp_ids, comp_mask, target, 0.0)
        eager = model.write_summary(comp_ids, comp_mask, target, enc=enc, temperature=0.0)
    return round(float((graphed == eager).all(1).float().mean()), 4)


# ---- the three measurements ---------------------------------------------------------------------------------
def supervised_step_fn(trainer, model):
    """(i, doc_labels) -> one supervised step of the compressor alone (no copy head), like the trainer's."""
    import torch

    from summae.train.pseudo import lead_targets, target_words
    from summae.train.optim import adamw

    cfg, acc, vocab = trainer.cfg, trainer.accelerator, model.vocab
    compressor = model.compressor
    params = [p for p in compressor.parameters() if p.requires_grad]
    opt = adamw(params, lr=cfg.train.lr, weight_decay=cfg.train.weight_decay, betas=(0.9, 0.98))  # as the trainer
    gen = torch.Generator().manual_seed(cfg.train.seed)

    def step(_i, doc_labels):
        # same targets as train_step 0): a word count per document, its lead span as the label
        doc_mask = doc_labels != vocab.pad_id
        target = target_words(model.word_start[doc_labels].sum(1).cpu(), ratio_min=cfg.summary.ratio_min,
                              ratio_max=cfg.summary.ratio_max, min_words=cfg.summary.min_words,
                              max_words=cfg.summary.max_words, generator=gen).to(acc.device)
        lead = lead_targets(doc_labels, target, word_start=model.word_start, max_tokens=cfg.model.max_summary_tokens,
                            eos_id=vocab.eos_id, pad_id=vocab.pad_id)  # (B, S)
        comp_ids, comp_mask = model.compressor_inputs(doc_labels, doc_mask, target)  # (B, L + 1)
        labels = lead.masked_fill(lead == vocab.pad_id, -100)  # -100: no loss on padding
        with acc.autocast():
            loss = compressor(input_ids=comp_ids, attention_mask=comp_mask, labels=labels).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, cfg.train.grad_clip)
        opt.step()
        return loss.item()  # the trainer reads its losses too (a host sync per step)

    return step


def dev_sentences(cfg, n: int) -> list[str]:
    from summae.io import read_lines

    lines = [t for t in read_lines(cfg.resolve_path(cfg.data.dev_documents)) if t.strip()]
    return [lines[i % len(lines)] for i in range(n)]  # cycled when n exceeds the dev set (4000 lines)


PASSES = 3  # timed summarizing passes over the n sentences (the median is reported)


def measure_summarize(cfg, trainer, model, device: str, n: int, clock: Clock, *, precision: str = "auto",
                      batch_size: int, cuda_graphs: bool = True) -> dict:
    """Summarizer's default decoding (greedy; `precision` as `summae summarize --precision`) over n dev
    sentences in batches of batch_size, on a copy of the model (bf16 converts it); one warm-up batch, or with CUDA
    graphs two warm-up passes over all n (each shape is decoded eagerly once, then captured: the steady state of a
    long file; the warm-up times are reported as summarize_warmup_seconds).

    The rate is the median of PASSES calls over all n sentences, as `summae summarize` reads a file: the
    Summarizer sorts each window of SORT_WINDOW batches by token count, so a batch pads to similar lengths (the
    first pass meets each width for the first time; a long file meets them again and again). Then each batch is timed
    alone, as given (no sorting: each pads to the longest of batch_size random sentences), for the per-batch
    times and `summarize_unsorted_sentences_per_s` (the measure of the JSONs before 2026-11-29)."""
    import copy

    from summae.tokenization import encode_texts
    from summae.summarize import Summarizer

    bs = batch_size
    texts = dev_sentences(cfg, n)
    ids, _ = encode_texts(trainer.tokenizer, texts, cfg.model.max_source_tokens - 1)
    tokens = sum(len(x) + 1 for x in ids)  # + EOS, as the compressor reads them
    summarizer = Summarizer(cfg, trainer.tokenizer, copy.deepcopy(model), device=device, precision=precision,
                            cuda_graphs=cuda_graphs)
    warmup = []  # untimed: one batch; on a GPU two whole passes (CUDA graphs: met once, then captured)
    for chunk in ([texts, texts] if summarizer.writer is not None else [texts[:bs]]):
        begin = clock()
        summarizer(chunk, batch_size=bs)
        warmup.append(round(clock() - begin, 3))
    passes = []
    for _ in range(PASSES):
        begin = clock()
        summaries = summarizer(texts, batch_size=bs)
        passes.append(clock() - begin)
    whole = statistics.median(passes)
    seconds = []
    for start in range(0, n, bs):
        begin = clock()
        summarizer(texts[start: start + bs], batch_size=bs)
        seconds.append(clock() - begin)
    total = sum(seconds)
    return {"summarize_sentences": n, "summarize_precision": summarizer.precision, "summarize_batch_size": bs,
            "summarize_sentences_per_s": round(n / whole, 1), "summarize_tokens_per_s": round(tokens / whole, 1),
            "summarize_seconds": round(whole, 3), "summarize_pass_seconds": [round(x, 3) for x in passes],
            "summarize_warmup_seconds": warmup,
            "summarize_unsorted_sentences_per_s": round(n / total, 1),
            "summarize_unsorted_batch_ms": summary_ms(seconds),
            "summarize_cuda_graphs": summarizer.writer is not None and summarizer.writer.enabled,
            "summarize_graph_captures": summarizer.writer.captures if summarizer.writer is not None else 0,
            "_summaries": summaries}


def beside(other: dict, label: str) -> dict:
    """A second measure_summarize() result renamed summarize_<label>_*, without what the first already says."""
    same = ("summarize_sentences", "summarize_precision", "summarize_batch_size", "summarize_cuda_graphs",
            "summarize_graph_captures", "_summaries")
    return {k.replace("summarize_", f"summarize_{label}_"): v for k, v in other.items() if k not in same}


def model_arguments(description: str) -> argparse.ArgumentParser:
    """A parser with the arguments `build_trainer` reads (the model, its data, device and batch), shared by the
    benchmarks that build the throughput model."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--config", default=str(ROOT / "summae" / "configs" / "throughput.yaml"))
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE")
    parser.add_argument("--device", choices=["cpu", "cuda"], default=None, help="default: cuda if available")
    parser.add_argument("--data-dir", default=None, help="folder holding gigaword/ (default ../shared/data)")
    parser.add_argument("--batch-size", type=int, default=None, help="default: 2048 on cuda, 64 on cpu")
    return parser


def parse_args(argv):
    parser = model_arguments(__doc__.split("\n")[0])
    parser.add_argument("--iters", type=int, default=10, help="timed steps of (a) and (b), >= 1")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps before them")
    parser.add_argument("--breakdown-steps", type=int, default=3, help="instrumented train steps (0 = none)")
    parser.add_argument("--sentences", type=int, default=None,
                        help="summarized dev sentences (default 2048 on cpu, 20000 on cuda)")
    parser.add_argument("--summarize-batch-size", type=int,
                        help="summarizing batch (default: summae summarize's, 256, on cpu; 2048 on cuda)")
    parser.add_argument("--default-allocator", action="store_true",
                        help="leave glibc's allocator as it is (the CLI tunes it: summae/runtime.py)")
    parser.add_argument("--out", help="result JSON (default benchmarks/results/throughput-DATE-HW.json)")
    args = parser.parse_args(argv)
    if args.iters < 1 or args.warmup < 0 or args.breakdown_steps < 0:
        parser.error("--iters must be >= 1, --warmup and --breakdown-steps >= 0")
    return args


def build_trainer(args, device: str, out_dir: str):
    from summae.config import load_config
    from summae.train.trainer import Trainer

    gpu = device == "cuda"
    data_dir = Path(args.data_dir).resolve() if args.data_dir else ROOT.parent / "shared" / "data"
    overrides = [f"data.data_dir={data_dir}",
                 f"train.batch_size={args.batch_size or (2048 if gpu else 64)}"]
    if not gpu:
        overrides.append("train.mixed_precision=no")  # fp32 on CPU: the config's bf16 is the GPU setting
    cfg = load_config(args.config, overrides + list(args.set))
    echo = lambda s: print(s, file=sys.stderr, flush=True)  # noqa: E731
    return cfg, Trainer(cfg, out_dir, device="cpu" if not gpu else "auto", echo=echo, progress=False)


def run(args, device: str) -> dict:
    import torch

    clock, memory = Clock(device), PeakMemory(device)
    begin_setup = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="summae-throughput-") as out_dir:
        cfg, trainer = build_trainer(args, device, out_dir)
        setup_s = time.perf_counter() - begin_setup
        model, acc, t = trainer.accelerator.unwrap_model(trainer.model), trainer.accelerator, cfg.train
        n_steps = args.warmup + args.iters
        docs = trainer.batches.iterate(0)
        batches = [next(docs).to(acc.device) for _ in range(n_steps)]  # the same batches for (a) and (b)
        tokens = statistics.mean(int((b != model.vocab.pad_id).sum()) for b in batches[args.warmup:])
        reals = trainer.real_batches.iterate(0) if trainer.real_batches is not None else None  # None: no D
        gen = torch.Generator().manual_seed(t.seed)
        step0 = t.pretrain_steps  # main phase: write summary, D step, G step
        echo = lambda s: print(s, file=sys.stderr, flush=True)  # noqa: E731
        echo(f"set-up {setup_s:.0f} s; (a, b) {n_steps} training steps of {t.batch_size} documents, each followed "
             "by a supervised compressor step on the same batch")
        graphs = None
        if trainer.writer is not None:  # train.cuda_graphs on a GPU
            echo("capturing the training writer's CUDA graphs for the batches' widths (untimed)")
            graphs = prime_train_writer(trainer, model, batches)
        mem = {"before_timing": memory.current_mb()}
        train_s, sup_s, mem["train"], mem["supervised"] = interleaved_steps(
            lambda i, b: trainer.train_step(step0 + i, b, reals, gen), supervised_step_fn(trainer, model), model,
            batches, warmup=args.warmup, clock=clock, memory=memory)
        if graphs is not None:
            graphs["graph_vs_eager_identical"] = graph_vs_eager(trainer, model, batches[0])
            graphs["enabled_after_timing"] = trainer.writer.enabled
            echo(f"(a'') {args.iters} training steps without CUDA graphs (train.cuda_graphs=false), for comparison")
            writer, trainer.writer = trainer.writer, None
            try:
                eager_s = timed_steps(lambda i, b: trainer.train_step(step0 + n_steps + i, b, reals, gen),
                                      batches, warmup=args.warmup, clock=clock)
            finally:
                trainer.writer = writer
            graphs["train_eager_docs_per_s"] = round(t.batch_size / statistics.median(eager_s), 1)
            graphs["train_eager_step_ms"] = summary_ms(eager_s)
        breakdown = None
        if args.breakdown_steps:
            echo(f"(a') {args.breakdown_steps} instrumented training steps")
            breakdown = train_breakdown(trainer, model, batches[: args.breakdown_steps], step0 + 2 * n_steps, reals,
                                        gen, clock)
        n_sent = args.sentences or (20000 if device == "cuda" else 2048)
        from summae.summarize import default_batch_size

        sum_bs = args.summarize_batch_size or default_batch_size(device)  # as `summae summarize`: 256 cpu, 2048 cuda
        echo(f"(c) summarizing {n_sent} dev sentences (default decoding, batch {sum_bs})")
        memory.start()
        summarize = measure_summarize(cfg, trainer, model, device, n_sent, clock, batch_size=sum_bs)
        mem["summarize"] = memory.mb()
        if summarize["summarize_cuda_graphs"]:
            echo(f"(c'') summarizing {n_sent} dev sentences without CUDA graphs (--no-cuda-graphs), for comparison")
            eager = measure_summarize(cfg, trainer, model, device, n_sent, clock, batch_size=sum_bs, cuda_graphs=False)
            same = sum(a == b for a, b in zip(summarize["_summaries"], eager["_summaries"]))
            summarize.update(beside(eager, "eager"))
            summarize["summarize_graph_vs_eager_identical"] = round(same / n_sent, 4)
        summarize.pop("_summaries")
        if summarize["summarize_precision"] != "fp32":
            echo(f"(c') summarizing {n_sent} dev sentences in fp32 (--precision fp32), for comparison")
            summarize.update(beside(measure_summarize(cfg, trainer, model, device, n_sent, clock, precision="fp32",
                                                      batch_size=sum_bs), "fp32"))
        params = param_counts(model, trainer.accelerator.unwrap_model(trainer.disc))
    result = report(cfg, device, args, setup_s, tokens, train_s, sup_s, summarize, mem, memory.kind, params,
                    breakdown)
    result["train_cuda_graphs"] = graphs  # None: the step wrote its summaries eagerly (CPU, or turned off)
    return result


def report(cfg, device, args, setup_s, tokens, train_s, sup_s, summarize, mem, mem_kind, params, breakdown) -> dict:
    bs, m = cfg.train.batch_size, cfg.model
    train_med, sup_med = statistics.median(train_s), statistics.median(sup_s)
    flops = flops_per_doc(params, Ls=m.max_source_tokens + 1, L=m.max_source_tokens, S=m.max_summary_tokens,
                          Lt=tokens / bs)
    rates = {"train": bs / train_med, "supervised": bs / sup_med, "summarize": summarize["summarize_sentences_per_s"]}
    achieved = {k: rates[k] * flops[k] for k in flops}  # FLOP/s
    result = {
        "batch_size": bs, "device": device, "mixed_precision": cfg.train.mixed_precision,
        "iters": args.iters, "warmup": args.warmup, "setup_seconds": round(setup_s, 1),
        "step_order": "interleaved: each training step, then a supervised step on the same batch",
        "source_tokens_per_doc": round(tokens / bs, 2), "padded_source_tokens": m.max_source_tokens,
        "train_docs_per_s": round(rates["train"], 1), "train_tokens_per_s": round(tokens / train_med, 1),
        "train_step_ms": summary_ms(train_s),
        "supervised_docs_per_s": round(rates["supervised"], 1), "supervised_tokens_per_s": round(tokens / sup_med, 1),
        "supervised_step_ms": summary_ms(sup_s),
        "train_over_supervised_time": round(rates["supervised"] / rates["train"], 2),
        **summarize,
        "peak_mem_mb": max(v for k, v in mem.items() if k != "before_timing" and v is not None),
        "peak_mem_mb_by_phase": mem, "peak_mem_kind": mem_kind,
        "params": params, "flops_formula": FLOPS_FORMULA,
        "flops_per_doc": {k: float(f"{v:.4g}") for k, v in flops.items()},
        "model_tflops_per_s": {k: round(v / 1e12, 4) for k, v in achieved.items()},
        "mfu": ({k: round(v / PEAK_BF16_FLOPS, 4) for k, v in achieved.items()} if device == "cuda" else None),
        "mfu_peak_flops": PEAK_BF16_FLOPS if device == "cuda" else None,
        "train_step_breakdown_ms": breakdown, "config": cfg.to_dict(),
    }
    return result


def main(argv=None) -> int:
    args = parse_args(argv)
    import torch

    from summae.cli import quiet_libraries
    from summae.errors import SummaeError

    quiet_libraries()
    from summae.runtime import allocator_state, tune_cpu_allocator

    if not args.default_allocator:
        tune_cpu_allocator()  # as `summae` does at start-up (summae/runtime.py)
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        print("error: --device cuda: no CUDA device is available here", file=sys.stderr)
        return 2
    load_before = load_average()
    try:
        result = run(args, device)
    except SummaeError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    suffix = f"; load average {load_before} before the run, {load_average()} after (1, 5, 15 min)" \
        if device == "cpu" else ""
    keys = ("batch_size", "train_docs_per_s", "supervised_docs_per_s", "train_over_supervised_time",
            "summarize_sentences_per_s", "peak_mem_mb")
    print(json.dumps({k: result[k] for k in keys}))
    write_result("throughput", {"allocator": allocator_state(), "configs": {"throughput": result},
                                "reference_naive_eager_cpu2_batch64": REFERENCE},
                 out=args.out, device=device, detail_suffix=suffix)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
