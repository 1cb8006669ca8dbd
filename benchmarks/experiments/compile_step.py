"""Does torch.compile make the training step faster? Compiled against eager steps, alternating, in one process.

    python benchmarks/experiments/compile_step.py [--device cpu|cuda] [--iters 10] [--warmup 3] [--dynamic]
        [--batch-size B] [--data-dir DIR] [--set k=v ...] [--out FILE]

Builds the throughput model and batches as benchmarks/throughput.py does (summae/configs/throughput.yaml; batch 64 on
the CPU, 2048 with bf16 autocast on a GPU), then compiles (`nn.Module.compile`, inductor) the encoder and
decoder stacks of both seq2seq models: the layers where a step's many elementwise operations (layer norms,
residual adds, dropout, GELU) could fuse. The summary writer calls the decoder layers one by one and stays
eager. Each batch then runs four times in turn: a compiled training step, an eager one, a compiled supervised
step of the compressor and an eager one (`_compiled_call_impl` switched off and on; nothing else changes).
Reports the medians after --warmup batches, the first compiled steps' time (the compilation), the
train/supervised ratio both ways, and a correctness check: the losses of one batch in eval mode (no dropout)
compiled and eager. Writes benchmarks/results/compile-<YYYYMMDD>-<hardware>.json.

Measured on the 2-core CPU (compile-20261130-cpu2.json) the compiled step was slower; on a GPU, whose training
step is bound by memory-bound elementwise kernels (docs/performance.md), fusion is what could pay.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/, for throughput
import throughput  # noqa: E402  (the same model, batches, supervised step, timing and result writer)


def parse_args(argv):
    parser = throughput.model_arguments(__doc__.split("\n")[0])
    parser.add_argument("--iters", type=int, default=10, help="timed batches, >= 1")
    parser.add_argument("--warmup", type=int, default=3, help="untimed batches first (the compilation among them)")
    parser.add_argument("--dynamic", action="store_true", help="compile with dynamic shapes (default: static)")
    parser.add_argument("--out", help="result JSON (default benchmarks/results/compile-DATE-HW.json)")
    args = parser.parse_args(argv)
    if args.iters < 1 or args.warmup < 1:
        parser.error("--iters and --warmup must be >= 1")
    return args


def stacks(model) -> dict:
    """The compiled modules: encoder and decoder of the compressor and of the reconstructor."""
    return {f"{name}.{part}": getattr(seq2seq, f"get_{part}")()
            for name, seq2seq in (("compressor", model.compressor), ("reconstructor", model.reconstructor))
            for part in ("encoder", "decoder")}


class Switch:
    """Compiles modules once; `on(flag)` routes their calls through the compiled or the eager forward."""

    def __init__(self, modules: dict, dynamic: bool):
        import torch._dynamo

        # the four stacks share transformers' forward wrappers (one code object, one cache), and each call pattern
        # (training/supervised/eval, 2B/B rows, encoder ids/embeddings) is a graph: room for all of them
        for name in ("recompile_limit", "cache_size_limit"):
            if hasattr(torch._dynamo.config, name):
                setattr(torch._dynamo.config, name, 64)
        if hasattr(torch._dynamo.config, "accumulated_recompile_limit"):
            torch._dynamo.config.accumulated_recompile_limit = max(torch._dynamo.config.accumulated_recompile_limit,
                                                                   256)
        self.modules = modules
        for module in modules.values():
            module.compile(dynamic=dynamic)
        self.compiled = {name: module._compiled_call_impl for name, module in modules.items()}

    def on(self, flag: bool) -> None:
        for name, module in self.modules.items():
            module._compiled_call_impl = self.compiled[name] if flag else None


def eval_losses(trainer, model, batch) -> dict:
    """The generator's losses of one batch with dropout off: a summary written greedily, the lead targets."""
    import torch

    from summae.train.pseudo import lead_targets

    cfg, vocab = trainer.cfg, model.vocab
    enc, comp_ids, comp_mask, target = throughput.writer_inputs(trainer, model, batch)
    lead = lead_targets(batch, target, word_start=model.word_start, max_tokens=cfg.model.max_summary_tokens,
                        eos_id=vocab.eos_id, pad_id=vocab.pad_id)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), trainer.accelerator.autocast():
            summary = model.write_summary(comp_ids, comp_mask, target, enc=enc)
            out = model("autoencode", comp_ids=comp_ids, comp_mask=comp_mask, doc_labels=batch, summary_ids=summary,
                        target=target, pseudo_ids=lead)
    finally:
        model.train(was_training)
    return {k: float(v) for k, v in out.losses.items()}


def run(args, device: str) -> dict:
    import torch

    clock = throughput.Clock(device)
    with tempfile.TemporaryDirectory(prefix="summae-compile-") as out_dir:
        cfg, trainer = throughput.build_trainer(args, device, out_dir)
        model, acc, t = trainer.accelerator.unwrap_model(trainer.model), trainer.accelerator, cfg.train
        docs = trainer.batches.iterate(0)
        batches = [next(docs).to(acc.device) for _ in range(args.warmup + args.iters)]
        reals = trainer.real_batches.iterate(0) if trainer.real_batches is not None else None
        gen = torch.Generator().manual_seed(t.seed)
        step0 = t.pretrain_steps
        if trainer.writer is not None:  # CUDA graphs of the summary writer: captured before timing, as throughput.py
            throughput.prime_train_writer(trainer, model, batches)
        switch = Switch(stacks(model), args.dynamic)
        sup = throughput.supervised_step_fn(trainer, model)
        times = {k: [] for k in ("train_compiled", "train_eager", "supervised_compiled", "supervised_eager")}
        first = {}
        for i, batch in enumerate(batches):
            for compiled in (True, False):
                switch.on(compiled)
                kind = "compiled" if compiled else "eager"
                begin = clock()
                trainer.train_step(step0 + i, batch, reals, gen)
                train_s = clock() - begin
                model.train()
                begin = clock()
                sup(i, batch)
                sup_s = clock() - begin
                if i == 0:
                    first[f"train_{kind}_s"], first[f"supervised_{kind}_s"] = round(train_s, 2), round(sup_s, 2)
                if i >= args.warmup:
                    times[f"train_{kind}"].append(train_s)
                    times[f"supervised_{kind}"].append(sup_s)
            print(f"batch {i}: done", file=sys.stderr, flush=True)
        compiled_losses = eval_losses(trainer, model, batches[0])  # the same weights, one after the other
        switch.on(False)
        eager_losses = eval_losses(trainer, model, batches[0])
    med = {k: statistics.median(v) for k, v in times.items()}
    bs = t.batch_size
    return {
        "batch_size": bs, "device": device, "mixed_precision": cfg.train.mixed_precision, "dynamic": args.dynamic,
        "iters": args.iters, "warmup": args.warmup, "compiled_modules": sorted(switch.modules),
        "step_order": "per batch: compiled train, compiled supervised, eager train, eager supervised",
        "train_compiled_docs_per_s": round(bs / med["train_compiled"], 1),
        "train_eager_docs_per_s": round(bs / med["train_eager"], 1),
        "train_speedup": round(med["train_eager"] / med["train_compiled"], 3),
        "supervised_compiled_docs_per_s": round(bs / med["supervised_compiled"], 1),
        "supervised_eager_docs_per_s": round(bs / med["supervised_eager"], 1),
        "train_over_supervised_time_compiled": round(med["train_compiled"] / med["supervised_compiled"], 2),
        "train_over_supervised_time_eager": round(med["train_eager"] / med["supervised_eager"], 2),
        "step_ms": {k: throughput.summary_ms(v) for k, v in times.items()},
        "first_batch_seconds": first,
        "eval_losses": {"eager": eager_losses, "compiled": compiled_losses,
                        "max_abs_diff": round(max(abs(eager_losses[k] - compiled_losses[k]) for k in eager_losses), 6)},
    }


def main(argv=None) -> int:
    args = parse_args(argv)
    import json

    import torch

    from summae.cli import quiet_libraries
    from summae.runtime import tune_cpu_allocator

    quiet_libraries()
    tune_cpu_allocator()  # as `summae` does at start-up
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        print("error: --device cuda: no CUDA device is available here", file=sys.stderr)
        return 2
    begin = time.perf_counter()
    result = run(args, device)
    result["seconds"] = round(time.perf_counter() - begin, 1)
    print(json.dumps({k: result[k] for k in ("train_speedup", "train_over_supervised_time_compiled",
                                             "train_over_supervised_time_eager", "eval_losses")}))
    throughput.write_result("compile", {"configs": {"throughput": result}}, out=args.out, device=device)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
