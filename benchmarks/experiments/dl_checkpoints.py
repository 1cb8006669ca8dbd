"""Would the description length keep better checkpoints than teacher agreement? A reference-free criterion, tried.

Teacher agreement (the trainer's best/ criterion when the search is on) cannot see a student that improves on its
teacher: any move away from the extractions counts against it. The description length of the held-out training
documents through the bottleneck can, since the teacher's extractions are only one point in it:

    L(x; s) = -log P_real(s) - log P_judge(x | s)        nats per document

with P_real the real short texts' bigram LM (the search's) and P_judge a judge reconstructor trained on the
search's extractions at every weight setting of train.teacher_search's grid (summae.train.criterion, the judge that
chooses the teacher's weights on a new corpus). It has never seen the run's summaries, so the run cannot learn to
please it. Each weight snapshot of a run (benchmarks/checkpoint_choice.py --save-snapshots) summarizes the run's
held-out training documents as `summae summarize` writes them; the mean L is scored. No references are read here;
the scores of --choice (that run's checkpoint-choice JSON) are joined in to compare the steps each criterion keeps.

    python benchmarks/experiments/dl_checkpoints.py --run runs/debian-adv01-seed0 \
        --choice benchmarks/results/checkpoint-choice-20261205-cpu2-debian-adv01-seed0.json --name debian-adv01-seed0
"""

import argparse
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

import torch  # noqa: E402
from throughput import write_result  # noqa: E402

from summae.config import Config  # noqa: E402
from summae.tokenization import encode_texts, pad_ids  # noqa: E402
from summae.train import criterion  # noqa: E402
from summae.train.dev_eval import decode, summarize_ids  # noqa: E402
from summae.train.trainer import Trainer  # noqa: E402


def text_ids(trainer, texts: list[str]) -> torch.Tensor:
    """Summary texts as the search writes its extractions: pieces, EOS, pad to model.max_summary_tokens."""
    width = trainer.cfg.model.max_summary_tokens
    ids, _ = encode_texts(trainer.tokenizer, texts, width - 1)
    return pad_ids(ids, eos_id=trainer.vocab.eos_id, pad_id=trainer.vocab.pad_id, width=width)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--run", required=True, help="a run of checkpoint_choice.py --save-snapshots")
    p.add_argument("--choice", help="that run's checkpoint-choice JSON (its scores are joined in)")
    p.add_argument("--name", required=True)
    p.add_argument("--judge-steps", type=int, default=criterion.SEARCH_STEPS)
    p.add_argument("--fit-docs", type=int, default=criterion.SEARCH_FIT_DOCS)
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)

    run = Path(args.run)
    snapshots = sorted((run / "snapshots").glob("step-*.safetensors"), key=lambda f: int(f.stem.split("-")[1]))
    if not snapshots:
        raise SystemExit(f"error: no snapshots in {run / 'snapshots'} (checkpoint_choice.py --save-snapshots)")
    cfg = Config.from_yaml(run / "last" / "config.yaml")
    trainer = Trainer(cfg, run, resume=True, device="cpu", echo=lambda m: print(m, file=sys.stderr), progress=False)
    dev, model, ex = trainer.dev, trainer._unwrapped(), trainer.extractor
    pool = trainer.batches.ids  # the training documents (the held-out ones are not among them)
    pick = torch.randperm(len(pool), generator=torch.Generator().manual_seed(cfg.train.seed))[:args.fit_docs]
    alpha, beta = ex.alpha, ex.beta
    judge, vocab = criterion.train_judge(cfg, trainer.tokenizer, ex, pool[pick].long(), criterion.SEARCH_GRID,
                                         words=cfg.summary.default_words, steps=args.judge_steps,
                                         batch_size=max(8, criterion.SEARCH_BATCH_TOKENS // pool.shape[1]),
                                         seed=cfg.train.seed, echo=lambda m: print(m, file=sys.stderr))
    ex.alpha, ex.beta = alpha, beta
    docs = dev.ids.long()

    def nats(texts):
        summary, document = criterion.description_nats(judge, ex, text_ids(trainer, texts), docs, vocab.pad_id)
        return {"summary_nats": round(summary, 3), "document_nats": round(document, 3),
                "description_nats": round(summary + document, 3)}

    teacher = nats(dev.teacher)
    print(f"teacher ({alpha}, {beta}): {teacher}", flush=True)
    choice = json.loads(Path(args.choice).read_text()) if args.choice else {"evaluations": []}
    joined = {row["step"]: row for row in choice["evaluations"]}
    rows = []
    from safetensors.torch import load_file
    for path in snapshots:
        step = int(path.stem.split("-")[1])
        model.load_state_dict(load_file(str(path)))
        model.eval()
        with torch.no_grad():
            summaries, targets = summarize_ids(model, dev.ids, dev.words, dev.max_words)
        texts = decode(dev.tokenizer, summaries, targets, dev.texts if dev.document_order else None)
        row = {"step": step, **nats(texts),
               **{k: joined.get(step, {}).get(k) for k in ("teacher_r1", "test_rouge1", "test_rouge2", "test_rougeL",
                                                           "devrefs_rouge1", "devrefs_rouge2", "devrefs_rougeL")}}
        rows.append(row)
        print(row, flush=True)
    kept = min(rows, key=lambda r: r["description_nats"])
    result = {"run": str(run), "choice": args.choice, "command": " ".join(sys.argv), "judge_steps": args.judge_steps,
              "fit_docs": len(pick), "held_out_documents": len(docs),
              "teacher": {"alpha": alpha, "beta": beta, **teacher},
              "kept_by_description_length": kept, "evaluations": rows}
    if choice.get("kept"):
        result["kept_by_teacher_agreement"] = choice["kept"]
        result["best_by_references"] = choice["best_by_references"]
        result["best_by_dev_references"] = choice.get("best_by_dev_references")
    print(f"description length keeps step {kept['step']} (test R-1 {kept['test_rouge1']})")
    write_result("dl-checkpoints", result, out=args.out, tag=args.name)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
