"""Process-wide settings that make CPU work faster: glibc's allocator tuned for large tensors.

glibc's malloc hands large blocks back to the kernel when they are freed (blocks it mmap'ed, and the top
of the heap past M_TRIM_THRESHOLD) and takes them back, page by page, at the next allocation. A
summarizing batch allocates and frees large tensors at every decoding step and every layer (a (B, V)
score table, a (B, L, ffn_dim) feed-forward activation), a training step larger ones still (the (B, S, V)
distributions), so on CPU much of the time goes to page faults and zeroing fresh pages. Here every block
comes from the heap and freed memory stays in the process for the next batch: the peak memory is a little
higher, since freed memory is kept instead of handed back early (benchmarks/experiments/allocator.py
measures both ways; docs/performance.md).

Kept memory is reused only by blocks that fit in it: batches cut to their longest document change shape at
every step, and the heap fragments: a 30-minute training run on 512-token documents held several times its live
memory, an evaluation's large batch came on top, and at 24 GB the kernel killed it. So long loops call
`release_free_memory()` now and then (the trainer after each evaluation, summarizing after each window of
batches), and the training loop calls `release_if_grown()` at every step: glibc's malloc_trim hands the free
pages inside the heap back to the kernel once the process holds twice what it held after the last release and at
least 4 GiB more. Freed pages are then faulted in again, so releasing is kept rare
(benchmarks/experiments/heap_growth.py measures both ways: past 1 GiB of growth, 22% slower training; past 4 GiB,
5%).

The CLI calls `tune_cpu_allocator()` once at start-up. Library users call it themselves: a library must
not change a host process's allocator behind its back. It changes nothing where the allocator is not
glibc's, where LD_PRELOAD names another allocator (jemalloc, tcmalloc), where the user set glibc's own
MALLOC_* variables, or where SUMMAE_TUNE_MALLOC=0.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

import torch

from summae.errors import SummaeError

# mallopt parameters (glibc's malloc.h)
M_TRIM_THRESHOLD = -1
M_MMAP_MAX = -4
TRIM_THRESHOLD = 1 << 30  # free memory at the heap's top goes back to the kernel past 1 GiB only

_state: dict[str, str] = {}
_libc: list = []  # the C library, once tuned: release_free_memory's malloc_trim
_released: list[float] = []  # the resident MiB right after the last release (release_if_grown)
GROWTH = 2.0  # release_if_grown: release past this factor of the resident memory after the last release
GROWTH_MIB = 4096  # and past at least this many MiB more than it (1 GiB: 22% slower training, heap_growth.py)


def tune_cpu_allocator() -> str:
    """Keep freed tensor memory in the process (glibc only). Returns what it did, in a few words (also
    `allocator_state()`): "tuned", or why not."""
    if _state:
        return _state["allocator"]
    _state["allocator"] = _tune()
    return _state["allocator"]


def release_free_memory() -> bool:
    """Hand the free memory inside the heap back to the kernel (glibc's malloc_trim), where tune_cpu_allocator
    tuned the allocator; elsewhere nothing. Returns whether memory was released. A few milliseconds: for long
    loops now and then, not for every tensor."""
    if not _libc:
        return False
    released = bool(_libc[0].malloc_trim(0))
    if _released:
        _released[0] = resident_mib()
    return released


def resident_mib() -> float:
    """This process's resident memory in MiB (Linux: /proc/self/statm; 0.0 where it cannot be read)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2 ** 20
    except (OSError, ValueError, IndexError):
        return 0.0


def release_if_grown() -> bool:
    """release_free_memory() once the resident memory has grown past GROWTH x (and GROWTH_MIB above) what it was
    right after the last release; cheap to call at every training step (one read of /proc/self/statm). Returns
    whether memory was released."""
    if not _libc:
        return False
    now = resident_mib()
    if not _released:
        _released.append(now)
        return False
    if now < max(GROWTH * _released[0], _released[0] + GROWTH_MIB):
        return False
    released = release_free_memory()
    _released[0] = resident_mib()
    return released


def allocator_state() -> str:
    """"tuned", "default" (never asked), or why tuning was skipped."""
    return _state.get("allocator", "default")


def _tune() -> str:
    if os.environ.get("SUMMAE_TUNE_MALLOC", "1") == "0":
        return "default (SUMMAE_TUNE_MALLOC=0)"
    if not sys.platform.startswith("linux"):
        return f"default (not glibc: {sys.platform})"
    preload = os.environ.get("LD_PRELOAD", "")
    if any(name in preload for name in ("jemalloc", "tcmalloc", "mimalloc")):
        return "default (LD_PRELOAD names another allocator)"
    if any(key.startswith("MALLOC_") for key in os.environ):
        return "default (MALLOC_* set by the user)"
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.gnu_get_libc_version.restype = ctypes.c_char_p
        libc.gnu_get_libc_version()  # only glibc has it (musl does not)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return "default (not glibc)"
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    # M_MMAP_MAX 0: no block gets its own mmap (glibc caps the mmap threshold at 32 MiB, below a training
    # step's largest tensors), so a freed block is reused, not unmapped and faulted in again
    if not (mallopt(M_MMAP_MAX, 0) and mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD)):
        return "default (mallopt refused)"
    libc.malloc_trim.argtypes, libc.malloc_trim.restype = [ctypes.c_size_t], ctypes.c_int
    _libc.append(libc)
    return "tuned"


PRECISIONS = ("auto", "fp32", "bf16")


def resolve_precision(precision: str, device: torch.device) -> str:
    """fp32 or bf16. auto: bf16 where the hardware multiplies bf16 natively (CUDA with bf16; a CPU with AMX or
    AVX512-BF16), fp32 elsewhere. There bf16 summarizing is faster and the summaries barely move: dev R-1
    stays within 0.1 of fp32, the bar for a reduced-precision default (benchmarks/experiments/precision.py
    measures both; docs/performance.md)."""
    if precision not in PRECISIONS:
        raise SummaeError(f"--precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if precision != "auto":
        return precision
    return "bf16" if native_bf16(device) else "fp32"


def native_bf16(device: torch.device) -> bool:
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        probes = [getattr(torch.cpu, name, None) for name in ("_is_amx_tile_supported", "_is_avx512_bf16_supported")]
        return any(probe is not None and probe() for probe in probes)
    return False


def pick_device(device: str) -> str:
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise SummaeError(f"--device {device}: no CUDA device is available here")
    if not (device == "cpu" or device.startswith("cuda") or device == "mps"):
        raise SummaeError(f"--device must be auto, cpu, cuda or cuda:N, got {device!r}")
    return device
