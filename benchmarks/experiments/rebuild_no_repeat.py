"""The auto-encoder issue's target 4 (the reconstruction is real), screened: the greedy reconstruction with and
without a no-repeat-n-gram rule. The reconstructor's greedy rebuild falls into loops ("the number of the number
of ...") that add words the document does not hold, and ROUGE-1 F1 against the document pays for each; the rule
(summae.decode.greedy.NoRepeatPick) never lets a row write an n-gram of tokens it already wrote. The summary is
the same in every row (the model's default greedy summary); only the reconstruction's decoding changes. Dev
documents only, and no reference is read: the measures are against the documents.

--ends free,document also rebuilds each document with no EOS before its number of tokens (the padded summary it is
compared with is told the document's length too; free: the rebuild ends where its argmax picks EOS).

    python benchmarks/experiments/rebuild_no_repeat.py --name NAME --limit 1000 [--ends free,document] RUN_DIR ...

RUN_DIR: a run directory (its best/ is read) or a checkpoint directory. Writes
benchmarks/results/rebuild-no-repeat-<date>-<hardware>-NAME.json.
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from throughput import write_result  # noqa: E402

from summae.io import read_texts  # noqa: E402
from summae.pipeline import autoencoder_report  # noqa: E402

DEV = Path(__file__).resolve().parents[3] / "shared" / "data" / "gigaword" / "dev.article.txt"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("runs", nargs="+", type=Path)
    ap.add_argument("--name", required=True)
    ap.add_argument("--dev", type=Path, default=DEV, help="documents, one per line (default: Gigaword dev)")
    ap.add_argument("--limit", type=int, default=1000, help="the first N dev documents")
    ap.add_argument("--ngrams", default="0,3,4", help="no_repeat_ngram settings; 0 = plain argmax")
    ap.add_argument("--ends", default="free", help="free (EOS when picked), document (not before the document's "
                    "length), or both, comma-separated")
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args(argv)
    documents = [text.strip() for text in read_texts(str(args.dev)) if text.strip()][:args.limit]
    rows = []
    for run in args.runs:
        model_dir = run / "best" if (run / "best").is_dir() else run
        for n, ends in ((int(x), e) for x in args.ngrams.split(",") for e in args.ends.split(",")):
            if ends not in ("free", "document"):
                ap.error(f"--ends: free or document, got {ends!r}")
            report = autoencoder_report(model_dir, documents, device=args.device, samples=3, no_repeat_ngram=n,
                                        document_length=ends == "document")
            row = {"run": str(run), "no_repeat_ngram": n, "ends": ends,
                   **{k: v for k, v in report.items() if k != "triples"}, "triples": report["triples"]}
            rows.append(row)
            print(f"{run} n={n} ends={ends}: rebuild {row['reconstruction_rouge1']:.2f}  "
                  f"summary {row['summary_rouge1']:.2f}  "
                  f"padded {row['padded_summary_rouge1']:.2f}", flush=True)
    config = {"dev": str(args.dev), "limit": len(documents), "ngrams": args.ngrams, "ends": args.ends}
    write_result("rebuild-no-repeat", {"config": config, "rows": rows}, device=args.device, tag=args.name)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
