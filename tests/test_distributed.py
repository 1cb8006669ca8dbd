"""Two processes (`accelerate launch --num_processes 2 --cpu`, gloo) train the tiny config together:
gradients are synchronised (both ranks end with identical weights) while each rank reads its own shard of
the data (their batches differ). Run as a script, this file is the worker each rank executes."""

import hashlib
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TINY = REPO / "summae" / "configs" / "tiny.yaml"
STEPS = 4  # 2 lead-pretraining + 2 main-phase steps: both kinds of step go through DDP


def _digest(tensors) -> str:
    h = hashlib.sha256()
    for t in tensors:
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def worker(out_dir: str) -> int:
    """One rank: train STEPS steps, then write rank<i>.json with hashes of its weights and its batches."""
    sys.path.insert(0, str(REPO))
    from summae.config import load_config
    from summae.train.trainer import Trainer

    sets = ["tokenizer.train_sentences=400", f"train.steps={STEPS}", "train.pretrain_steps=2", "train.sample_every=0",
            "train.eval_every=0", "train.save_every=0", "train.log_every=2", "model.dropout=0.1"]
    cfg = load_config(str(TINY), sets)
    trainer = Trainer(cfg, Path(out_dir) / "run", device="cpu", echo=lambda s: None, progress=False)
    acc = trainer.accelerator
    batches = trainer.batches.iterate(0)
    seen = [next(batches) for _ in range(STEPS)]  # the batches train() reads: iterate is deterministic per rank
    trainer.train()
    model, disc = trainer._unwrapped(), acc.unwrap_model(trainer.disc)
    report = {"rank": acc.process_index, "world": acc.num_processes,
              "generator": _digest(p for _, p in sorted(model.state_dict().items())),
              "discriminator": _digest(p for _, p in sorted(disc.state_dict().items())),
              "batches": _digest(seen), "first_rows": seen[0][:2].tolist()}
    (Path(out_dir) / f"rank{acc.process_index}.json").write_text(json.dumps(report), encoding="utf-8")
    return 0


@pytest.mark.slow
def test_two_processes_keep_identical_weights_on_different_batches(tmp_path):
    pytest.importorskip("accelerate")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
           "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    # --multi_gpu selects accelerate's torchrun launcher; Trainer(device="cpu") then joins a gloo process group
    # (`--cpu` would launch a single process)
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
           "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
           "--main_process_port", str(_free_port()), __file__, str(tmp_path)]
    done = subprocess.run(cmd, env=env, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    ranks = [json.loads((tmp_path / f"rank{i}.json").read_text(encoding="utf-8")) for i in range(2)]
    assert [r["rank"] for r in ranks] == [0, 1] and all(r["world"] == 2 for r in ranks)
    assert ranks[0]["batches"] != ranks[1]["batches"]  # sharded by rank: each process reads other documents
    assert ranks[0]["first_rows"] != ranks[1]["first_rows"]
    assert ranks[0]["generator"] == ranks[1]["generator"]  # DDP all-reduced the gradients: same updates
    assert ranks[0]["discriminator"] == ranks[1]["discriminator"]


if __name__ == "__main__":
    raise SystemExit(worker(sys.argv[1]))
