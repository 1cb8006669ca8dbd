"""Which training descriptions are near-copies of test descriptions? Debian binary packages built from one
source (foo, foo-dev, libfoo1) often share most of a description, and their synopses end up among the unpaired
real texts.

    python benchmarks/experiments/near_test_siblings.py [--candidates FILE.jsonl] [--threshold 0.4]
        [--write-dir DIR] [--out FILE.json]

A candidate is a sibling of a test record when its word set (lowercased \\w+ tokens) has a Jaccard similarity
above --threshold with some test description's, or its synopsis equals a test synopsis (lowercased). Candidate
pairs are found through the words held by fewer than 50 test descriptions, at least 3 shared. With --write-dir:
the candidates less the test ids and the siblings, as train.jsonl, and their synopses shuffled (random.Random(13),
as scripts/prepare_debian.py) as headlines.txt: the corpus of the 19.6k-description ready build in
docs/history.md (--candidates ../shared/data/debian/pairs_21k.jsonl).
"""

from __future__ import annotations

import argparse
import json
import random
import re
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RARE = 50  # words held by fewer test descriptions than this find candidate pairs
SHARED = 3  # rare words a candidate pair must share


def words(text: str) -> set[str]:
    return set(re.findall(r"\w+", text.lower()))


def read(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--test", default=str(ROOT / "summae" / "data" / "debian" / "test.jsonl"))
    parser.add_argument("--candidates", default=str(ROOT / "summae" / "data" / "debian" / "train.jsonl"))
    parser.add_argument("--threshold", type=float, default=0.4)
    parser.add_argument("--write-dir", help="write the candidates less test ids and siblings here")
    parser.add_argument("--out", help="JSON file (default: print only)")
    args = parser.parse_args(argv)

    test = read(Path(args.test))
    test_ids = {r["id"] for r in test}
    test_words = [words(r["document"]) for r in test]
    test_synopses = {" ".join(r["summary"].split()).lower() for r in test}
    holders = defaultdict(set)
    for i, ws in enumerate(test_words):
        for w in ws:
            holders[w].add(i)
    kept, siblings, examples = [], 0, []
    candidates = [r for r in read(Path(args.candidates)) if r["id"] not in test_ids]
    for r in candidates:
        document, synopsis = " ".join(r["document"].split()), " ".join(r["summary"].split())
        ws = words(document)
        shared = defaultdict(int)
        for w in ws:
            if len(holders[w]) < RARE:
                for i in holders[w]:
                    shared[i] += 1
        near = [i for i, n in shared.items() if n >= SHARED
                and len(ws & test_words[i]) / max(1, len(ws | test_words[i])) > args.threshold]
        if near or synopsis.lower() in test_synopses:
            siblings += 1
            if len(examples) < 5 and near:
                examples.append([r["id"], test[near[0]]["id"]])
            continue
        kept.append({"id": r["id"], "document": document, "summary": synopsis})
    result = {"benchmark": "near_test_siblings", "test": args.test, "candidates": args.candidates,
              "threshold": args.threshold, "candidate_records": len(candidates), "siblings": siblings,
              "kept": len(kept), "examples": examples}
    print(f"{siblings} of {len(candidates)} candidates are near-copies of test descriptions "
          f"(Jaccard > {args.threshold} or the same synopsis); e.g. {examples[:3]}")
    if args.write_dir:
        out = Path(args.write_dir)
        out.mkdir(parents=True, exist_ok=True)
        with open(out / "train.jsonl", "w", encoding="utf-8") as f:
            f.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in kept)
        headlines = [r["summary"] for r in kept]
        random.Random(13).shuffle(headlines)
        (out / "headlines.txt").write_text("".join(h + "\n" for h in headlines), encoding="utf-8")
        print(f"wrote {len(kept)} records and headlines to {out}")
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
