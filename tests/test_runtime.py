"""summae.runtime: the CLI's allocator tuning takes effect on glibc (a freed block is reused, not faulted in
again) and steps aside where the user chose otherwise."""

import os
import subprocess
import sys

import pytest
from conftest import REPO

from summae import runtime

glibc = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt: Linux only")

# a feed-forward block's forward pass, 12 times; print the page faults of the last 4 (tuned, the first few
# grow the heap until freed blocks coalesce into ones the next pass can reuse; from then on no new pages)
PROBE = """
import resource, sys
import torch
from summae.runtime import tune_cpu_allocator
print(tune_cpu_allocator() if sys.argv[1] == "tune" else "untouched")
torch.manual_seed(0)
ffn = torch.nn.Sequential(torch.nn.Linear(256, 1024), torch.nn.GELU(), torch.nn.Linear(1024, 256))
x = torch.randn(256, 48, 256)
with torch.no_grad():
    for step in range(12):
        if step == 8:
            before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        y = ffn(x).softmax(-1)  # a 48 MiB activation, freed at once: above glibc's top mmap threshold (32 MiB)
        del y
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def probe(way: str, **env) -> tuple[str, int]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_") and k != "SUMMAE_TUNE_MALLOC"}
    out = subprocess.run([sys.executable, "-c", PROBE, way], cwd=REPO, env={**clean, **env}, capture_output=True,
                         text=True, check=True).stdout.splitlines()
    return out[0], int(out[-1])


@glibc
def test_tuned_allocator_reuses_a_freed_large_block():
    untouched, default_faults = probe("untouched")
    state, tuned_faults = probe("tune")
    assert (untouched, state) == ("untouched", "tuned")
    # the reason for the tuning: glibc as it comes maps each large activation afresh and faults it in again
    # (12288 small pages a pass, fewer where the kernel backs them with huge pages); tuned, freed blocks are
    # reused. Below 32 MiB glibc's own dynamic threshold may already reuse them, so the probe is larger.
    assert default_faults >= 16
    assert tuned_faults * 8 < default_faults


@glibc
def test_opt_out_leaves_the_allocator_alone():
    state, faults = probe("tune", SUMMAE_TUNE_MALLOC="0")
    _, default_faults = probe("untouched")
    assert state == "default (SUMMAE_TUNE_MALLOC=0)"
    assert faults * 2 > default_faults


@pytest.mark.parametrize("env, reason", [
    ({"SUMMAE_TUNE_MALLOC": "0"}, "SUMMAE_TUNE_MALLOC=0"),
    ({"MALLOC_ARENA_MAX": "2"}, "MALLOC_* set by the user"),
    ({"LD_PRELOAD": "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2"}, "LD_PRELOAD names another allocator"),
])
def test_user_choices_win(monkeypatch, env, reason):
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert runtime._tune() == f"default ({reason})"  # _tune only decides: nothing was changed


def test_state_is_reported_and_set_once(monkeypatch):
    monkeypatch.setattr(runtime, "_state", {})
    assert runtime.allocator_state() == "default"
    monkeypatch.setenv("SUMMAE_TUNE_MALLOC", "0")
    first = runtime.tune_cpu_allocator()
    monkeypatch.delenv("SUMMAE_TUNE_MALLOC")
    assert runtime.tune_cpu_allocator() == first == runtime.allocator_state()  # decided once per process


# tuned, a freed 256 MiB tensor below a live one stays in the heap (resident) until release_free_memory
RELEASE = """
import sys
import torch
from summae.runtime import release_free_memory, resident_mib, tune_cpu_allocator
released = release_free_memory()  # before tuning: nothing to release with
print(tune_cpu_allocator() if sys.argv[1] == "tune" else "untouched", released)
big = torch.ones(64, 2 ** 20)  # 256 MiB, from the heap once tuned
above = torch.ones(2 ** 16)  # a live block after it: the hole left by `big` is not the heap's top
del big
before = resident_mib()
released = release_free_memory()
print(released, round(before - resident_mib()))
"""


@glibc
def test_release_free_memory_hands_a_freed_hole_back():
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_") and k != "SUMMAE_TUNE_MALLOC"}
    out = subprocess.run([sys.executable, "-c", RELEASE, "tune"], cwd=REPO, env=clean, capture_output=True, text=True,
                         check=True).stdout.splitlines()
    assert out[0] == "tuned False"
    released, freed_mib = out[1].split()
    assert released == "True" and int(freed_mib) > 200  # the 256 MiB hole went back to the kernel
    out = subprocess.run([sys.executable, "-c", RELEASE, "untouched"], cwd=REPO, env=clean, capture_output=True,
                         text=True, check=True).stdout.splitlines()
    assert out[0] == "untouched False" and out[1].split()[0] == "False"  # untuned: malloc_trim is never called


GROWN = """
import torch
from summae import runtime
runtime.tune_cpu_allocator()
runtime.GROWTH, runtime.GROWTH_MIB = 1.0, 128  # release past 128 MiB of growth (the trainer: 2x and 1 GiB)
first = runtime.release_if_grown()  # sets the baseline
small = torch.ones(4, 2 ** 20)  # 16 MiB: under the bound
del small
under = runtime.release_if_grown()
big = torch.ones(64, 2 ** 20)  # 256 MiB, then a live block after it: a hole
above = torch.ones(2 ** 16)
del big
before = runtime.resident_mib()
over = runtime.release_if_grown()
print(first, under, over, round(before - runtime.resident_mib()))
"""


@glibc
def test_release_if_grown_releases_past_the_bound_only():
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_") and k != "SUMMAE_TUNE_MALLOC"}
    out = subprocess.run([sys.executable, "-c", GROWN], cwd=REPO, env=clean, capture_output=True, text=True,
                         check=True).stdout.split()
    assert out[:3] == ["False", "False", "True"]
    assert int(out[3]) > 200  # the hole went back to the kernel
    assert runtime.resident_mib() > 0
