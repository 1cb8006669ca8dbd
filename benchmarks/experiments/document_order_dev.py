"""Does putting a summary's words in document order (summary.document_order) help on Gigaword dev?

Rescores the dev summaries that benchmarks/gigaword.py wrote (RUN/dev.summaries.txt, greedy, as written before
any reordering) against dev.title.txt (and duc2003.summaries.txt against DUC-2003's four references, recall at 75
bytes), as written and with `summae.decode.rules.document_order` applied: the
same words (R-1 cannot move), only their order. Dev references: this is where the Gigaword recipe's settings
are tuned.

    python benchmarks/experiments/document_order_dev.py runs/gigaword-cpu-nod-copy-500 \\
        runs/gigaword-cpu-distill-copy500-500
"""

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from throughput import write_result  # noqa: E402

from summae.decode.rules import document_order  # noqa: E402
from summae.eval.bottleneck import word_order_score  # noqa: E402
from summae.eval.rouge import rouge_scores  # noqa: E402
from summae.io import read_lines  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("runs", nargs="+", help="run directories of benchmarks/gigaword.py (dev.summaries.txt inside)")
    p.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "gigaword"))
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)
    articles = read_lines(str(Path(args.data) / "dev.article.txt"))
    refs = [[r] for r in read_lines(str(Path(args.data) / "dev.title.txt"))]
    duc = Path(args.data).parent / "duc2003"
    duc_inputs = read_lines(str(duc / "input.txt"))
    duc_refs = [list(r) for r in zip(*[read_lines(str(duc / f"task1_ref{i}.txt")) for i in range(4)])]
    result = {"command": " ".join(sys.argv), "runs": {}}
    for run in args.runs:
        written = read_lines(str(Path(run) / "dev.summaries.txt"))
        cfg = (Path(run) / "config.yaml").read_text(encoding="utf-8")
        if "document_order: true" in cfg:
            raise SystemExit(f"error: {run} already wrote its summaries in document order")
        n = len(written)
        begin = time.perf_counter()
        ordered = [document_order(s, d) for s, d in zip(written, articles[:n])]
        seconds = time.perf_counter() - begin
        row = {"documents": n, "as_written": rouge_scores(written, refs[:n]),
               "document_order": rouge_scores(ordered, refs[:n]),
               "word_order": {"as_written": word_order_score(written, articles[:n]),
                              "document_order": word_order_score(ordered, articles[:n])},
               "reorder_us_per_summary": round(seconds / max(1, n) * 1e6, 2)}
        duc_written = read_lines(str(Path(run) / "duc2003.summaries.txt"))
        duc_ordered = [document_order(s, d) for s, d in zip(duc_written, duc_inputs)]
        row["duc2003"] = {"as_written": rouge_scores(duc_written, duc_refs, duc=True),
                          "document_order": rouge_scores(duc_ordered, duc_refs, duc=True)}
        result["runs"][run] = row
        a, b = row["as_written"], row["document_order"]
        print(f"{run}: as written {a['rouge1']} / {a['rouge2']} / {a['rougeL']}, in document order "
              f"{b['rouge1']} / {b['rouge2']} / {b['rougeL']}; word order {row['word_order']}; DUC-2003 R-1 "
              f"{row['duc2003']['as_written']['rouge1']} -> {row['duc2003']['document_order']['rouge1']}")
    write_result("document-order-dev", result, out=args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
