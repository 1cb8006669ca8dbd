"""The optimizers' settings, as pure functions: the AdamW the trainer builds, the learning-rate schedule it
reads each step, and the precision it trains in."""

from __future__ import annotations

import torch

from summae.runtime import native_bf16


def adamw(params: list, *, lr: float, weight_decay: float, betas: tuple[float, float]) -> torch.optim.AdamW:
    """AdamW with the fused kernel (one kernel for all parameters, CPU and CUDA) where torch has it."""
    try:
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay, betas=betas, fused=True)
    except (RuntimeError, ValueError):  # a device or dtype without the fused kernel
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay, betas=betas)


def lr_factor(t, step: int) -> float:
    """The learning rates' multiplier at `step` for the train section `t`: a linear warm-up, then a linear decay to
    train.lr_end at the end of pretraining (read each step: a time plan may move that end), then train.phase_lr
    (None: lr_end) for the auto-encoding phase, or from train.phase_lr_step when set. lr_end 1.0 and no phase_lr:
    constant after the warm-up."""
    warm = max(1, t.warmup_steps)
    if step + 1 < warm:
        return (step + 1) / warm
    if t.phase_lr is not None and t.phase_lr_step is not None and step >= t.phase_lr_step:
        return t.phase_lr
    if step >= t.pretrain_steps:
        return t.lr_end if t.phase_lr is None else t.phase_lr
    done = (step + 1 - warm) / max(1, t.pretrain_steps - warm)
    return 1.0 - (1.0 - t.lr_end) * min(1.0, max(0.0, done))


def training_precision(mixed_precision: str, device: str) -> str:
    """accelerate's mixed_precision for train.mixed_precision; the others as given. "auto" is bf16 on a CUDA GPU
    that multiplies bf16 natively and "no" (fp32) elsewhere. Not bf16 on CPUs, even those with AVX512-BF16 or
    AMX: there it pays off only for larger models. bf16 trained the d256 throughput model faster but the
    d128 CPU-size recipe slower, with the same dev ROUGE (docs/performance.md, "Tried and not adopted")."""
    if mixed_precision != "auto":
        return mixed_precision
    on_gpu = device != "cpu" and torch.cuda.is_available()  # the device Accelerator picks
    return "bf16" if on_gpu and native_bf16(torch.device("cuda")) else "no"
