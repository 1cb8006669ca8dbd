"""Score a run's best/ and last/ checkpoints on held-out pairs: did the auto-encoding phase after best/ help?

A diagnostic for the auto-encoder issue. best/ is what the reference-free criterion kept; last/ is where the
auto-encoding phase ended. Both are summarized with `summae summarize`'s default decoding (fp32, the model's
default length) and scored with ROUGE F1 against the references of --test. On the bundled Debian test set
these are the test references: the result describes a run, it must not choose a recipe.

    python benchmarks/experiments/run_checkpoints.py --run /tmp/demoNoD --name demo-no-d

`--in-order` decodes with `summary.in_order` on (copied words keep the document's order) instead of the
run's own setting.
"""

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

from own_corpus import read_state  # noqa: E402
from throughput import write_result  # noqa: E402

from summae.eval.rouge import rouge_scores  # noqa: E402
from summae.io import read_texts  # noqa: E402
from summae.summarize import Summarizer  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--run", required=True, help="a finished run directory (best/ and last/ inside)")
    p.add_argument("--test", default=str(ROOT / "summae/data/debian/test.jsonl"), help="held-out pairs, jsonl")
    p.add_argument("--text-field", default="document")
    p.add_argument("--summary-field", default="summary")
    p.add_argument("--name", required=True, help="the run's name, in the result file name")
    p.add_argument("--in-order", action="store_true", help="decode with summary.in_order on")
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)

    docs = read_texts(args.test, field=args.text_field)
    refs = [[r] for r in read_texts(args.test, field=args.summary_field)]
    run = Path(args.run)
    result = {"run": str(run), "test": args.test, "in_order": args.in_order, "command": " ".join(sys.argv),
              "checkpoints": {}}
    for name in ("best", "last"):
        ckpt = run / name
        state = read_state(ckpt)
        summarizer = Summarizer.from_pretrained(ckpt, device="cpu", precision="fp32")
        if args.in_order:
            summarizer.model.rules.in_order = True
        scores = rouge_scores(summarizer(docs), refs)
        result["checkpoints"][name] = {"step": state.get("step"), **scores}
        print(f"{name:5} step {state.get('step')}: {scores['rouge1']} / {scores['rouge2']} / {scores['rougeL']} "
              f"at {scores['words']} words", flush=True)
    write_result("run-checkpoints", result, out=args.out, tag=args.name)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
