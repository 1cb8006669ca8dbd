"""Build the bundled default corpus (summae/data/debian/) from the shared Debian description pairs.

    python scripts/prepare_debian.py [--input ../shared/data/debian/demo_6k.jsonl] [--out-dir DIR]

Writes train.jsonl / test.jsonl ({"id", "document", "summary"}), test_ids.txt (sorted), headlines.txt (the
train summaries, shuffled: the discriminator's unpaired "real" text) and NOTICE. The split is drawn once with
random.Random(13); when test_ids.txt already exists it is reused, so re-running never moves a record.

    python scripts/prepare_debian.py --dev-out /work/debian_dev.jsonl
        [--dev-input ../shared/data/debian/pairs_21k.jsonl]

writes instead a Debian dev set for tuning: --dev-size pairs (default 1,000) of the larger pairs file whose ids are
not in --input, so no dev document is a bundled train or test document. Drawn with random.Random(DEV_SEED).
The bundled test references stay for reporting; settings are chosen on this file.
"""

import argparse
import json
import random
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_INPUT = REPO / ".." / "shared" / "data" / "debian" / "demo_6k.jsonl"
DEFAULT_OUT = REPO / "summae" / "data" / "debian"
SPLIT_SEED = 13  # random.Random seed of the train/test split (used only when test_ids.txt is absent)
HEADLINE_SEED = 13  # random.Random seed of the headline shuffle
DEV_SEED = 17  # random.Random seed of the dev sample (--dev-out)
DEFAULT_DEV_INPUT = REPO / ".." / "shared" / "data" / "debian" / "pairs_21k.jsonl"
NOTICE = (
    "Package descriptions from Debian 12 (bookworm) main, (c) their maintainers and upstream authors, "
    "under the licences stated in each package's debian/copyright."
)


def normalise(text: str) -> str:
    # Debian long descriptions have paragraph breaks ("\n\n") and bullet lists ("\n * "); the training reads
    # one document per line/record, so every whitespace run (incl. \xa0, hair spaces) becomes one space.
    return " ".join(text.split())


def read_records(path: Path) -> list[dict]:
    records, seen = [], set()
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            r = json.loads(line)
            rec = {"id": r["id"], "document": normalise(r["document"]), "summary": normalise(r["summary"])}
            if not rec["document"] or not rec["summary"]:
                raise ValueError(f"{path} line {lineno}: empty document or summary ({rec['id']})")
            if rec["id"] in seen:
                raise ValueError(f"{path} line {lineno}: duplicate id {rec['id']}")
            seen.add(rec["id"])
            records.append(rec)
    return records


def choose_test_ids(records: list[dict], ids_path: Path, test_size: int) -> set[str]:
    all_ids = {r["id"] for r in records}
    if ids_path.exists():  # reuse: the split must never move once published
        lines = ids_path.read_text(encoding="utf-8").splitlines()
        test_ids = {line.strip() for line in lines if line.strip()}
        unknown = sorted(test_ids - all_ids)
        if unknown:
            raise ValueError(f"{ids_path} names {len(unknown)} ids not in the input, e.g. {unknown[0]}")
        return test_ids
    if test_size >= len(records):
        raise ValueError(f"--test-size must be < {len(records)} records, got {test_size}")
    return set(random.Random(SPLIT_SEED).sample(sorted(all_ids), test_size))


def write_jsonl(path: Path, records: list[dict]) -> None:
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for r in records:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


def write_lines(path: Path, lines: list[str]) -> None:
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.writelines(line + "\n" for line in lines)


def write_dev(args) -> int:
    """--dev-out: --dev-size pairs of --dev-input whose ids and documents are not in --input."""
    try:
        bundled = read_records(args.input)
        pool = read_records(args.dev_input)
    except (OSError, ValueError, KeyError) as e:
        print(f"prepare_debian: {e}", file=sys.stderr)
        return 1
    ids, documents = {r["id"] for r in bundled}, {r["document"] for r in bundled}
    pool = [r for r in pool if r["id"] not in ids and r["document"] not in documents]
    if not 0 < args.dev_size <= len(pool):
        print(f"prepare_debian: --dev-size must be 1-{len(pool)}, got {args.dev_size}", file=sys.stderr)
        return 1
    dev = random.Random(DEV_SEED).sample(pool, args.dev_size)
    args.dev_out.parent.mkdir(parents=True, exist_ok=True)
    write_jsonl(args.dev_out, dev)
    print(f"wrote {len(dev)} dev records (of {len(pool)} outside {args.input.name}): {args.dev_out}")
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--input", type=Path, default=DEFAULT_INPUT, help="demo_6k.jsonl")
    p.add_argument("--out-dir", type=Path, default=DEFAULT_OUT, help="where the bundled files go")
    p.add_argument("--test-size", type=int, default=500, help="held out (unused if test_ids.txt exists)")
    p.add_argument("--dev-out", type=Path, help="write a dev set (pairs outside --input) here instead")
    p.add_argument("--dev-input", type=Path, default=DEFAULT_DEV_INPUT, help="pairs_21k.jsonl (for --dev-out)")
    p.add_argument("--dev-size", type=int, default=1000, help="pairs in the dev set (for --dev-out)")
    args = p.parse_args(argv)
    if args.dev_out:
        return write_dev(args)
    try:
        records = read_records(args.input)
        args.out_dir.mkdir(parents=True, exist_ok=True)
        test_ids = choose_test_ids(records, args.out_dir / "test_ids.txt", args.test_size)
    except (OSError, ValueError, KeyError) as e:
        print(f"prepare_debian: {e}", file=sys.stderr)
        return 1

    # input order is kept inside each part; only the headlines are shuffled (they must carry no pairing)
    train = [r for r in records if r["id"] not in test_ids]
    test = [r for r in records if r["id"] in test_ids]
    headlines = [r["summary"] for r in train]
    random.Random(HEADLINE_SEED).shuffle(headlines)

    write_jsonl(args.out_dir / "train.jsonl", train)
    write_jsonl(args.out_dir / "test.jsonl", test)
    write_lines(args.out_dir / "test_ids.txt", sorted(test_ids))
    write_lines(args.out_dir / "headlines.txt", headlines)
    write_lines(args.out_dir / "NOTICE", [NOTICE])
    print(f"wrote {len(train)} train / {len(test)} test records + {len(headlines)} headlines: {args.out_dir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
