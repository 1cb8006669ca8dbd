"""benchmarks/checkpoint_choice.py keeps the weights each evaluation scored: with train.ema_decay those are the
weight average's, not the live generator's."""

from __future__ import annotations

import torch
from conftest import TINY, TINY_RUN_SETS, load_script


def test_snapshots_are_the_weights_evaluation_scored_the_average_with_ema(tmp_path):
    choice = load_script("benchmarks/checkpoint_choice.py")
    argv = ["--config", str(TINY), "--output-dir", str(tmp_path / "run"), "--quiet"]
    for item in [*TINY_RUN_SETS, "train.sample_every=0", "train.ema_decay=0.9"]:
        argv += ["--set", item]
    trainer, _, snapshots = choice.train_with_snapshots(argv)
    last = snapshots[max(snapshots)]
    kept, live = trainer._kept().state_dict(), trainer._unwrapped().state_dict()
    assert set(last) == set(live)
    assert all(torch.equal(last[k], kept[k]) for k in last)  # the average, as best/ and last/ save it
    assert not all(torch.equal(last[k], live[k]) for k in last)  # not the live weights
