"""Build a paragraph-level corpus from the docstrings of the Python on this machine: summary line -> body.

    python scripts/prepare_docstrings.py --output DIR [--seed 0] [--test-size 1000] [--max-docs 60000]
        [--dev-size 500] [--roots DIR ...]

The standard library and the running interpreter's site-packages are read as source (parsed with `ast`, never
imported: importing arbitrary packages is slow and has side effects). A module, class or function docstring
gives a pair when its first paragraph is a one-line summary (3-20 words, ending in a letter or '.') and the
rest, kept to its prose (no doctests, code, field lists or numpy/google sections), holds 30-400 words.

The split is by top-level package (a hash of its name and the seed), so the test documents come from packages
the training documents never saw: packages of at most --test-size pairs fill the test set in hash order, and the
others go, in the same order, to whichever training half holds fewer pairs. Writes:

    test.jsonl     {"body", "summary", "source"}: held-out pairs (the references are used only to score)
    docs.jsonl     {"body", "source"}: training documents, no summaries
    titles.txt     summary lines of the other half of the training packages (real short texts, unpaired)
    dev.jsonl      {"body", "summary", "source"}: the first --dev-size training documents with their summary lines,
                   for tuning (training never reads these summaries; the test pairs stay for the final score)
    manifest.json  counts, word-length statistics, Python and package versions, seed, command line

For `summae train --train-files DIR/docs.jsonl --text-field body --real-files DIR/titles.txt`.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import os
import random
import re
import statistics
import sys
import sysconfig
import warnings
from pathlib import Path

MAX_FILE_BYTES = 2 * 1024 * 1024  # larger files are generated tables, not documented code
SKIP_DIRS = {"test", "tests", "testing", "idlelib", "turtledemo", "lib2to3", "site-packages", "dist-packages",
             "__pycache__", "_vendor", "vendor", "vendored", "_vendored", "benchmarks", "examples"}
REF_WORDS = (3, 20)  # words of a summary line, inclusive
BODY_WORDS = (30, 400)  # words of a body, inclusive
REF_MAX_LINES = 3  # a first paragraph longer than this is a paragraph, not a summary line
MIN_ALPHA_SHARE = 0.7  # a prose paragraph: at least this share of its words are made of letters

# numpy-style (a title underlined with ---/===) and google-style ("Args:") section headers: the prose ends there
SECTIONS = {"args", "arguments", "attributes", "example", "examples", "keyword args", "keyword arguments",
            "kwargs", "methods", "note", "notes", "other parameters", "parameters", "params", "raises",
            "references", "return", "returns", "see also", "todo", "usage", "warning", "warnings", "warns",
            "yield", "yields", "raise", "exceptions", "options", "results", "type", "rtype", "signature", "inputs",
            "outputs", "input", "output", "fields", "defined fields", "shape", "shapes", "properties"}
# Sphinx / epydoc field lists (:param x:, :returns:, @param x:), not a role that opens a line (:class:`X`)
FIELD = re.compile(r"^(:\w[^:`]*:(?!`)|@(param|type|return|rtype|raise|keyword|ivar)\b)")
UNDERLINE = re.compile(r"^\s*([-=~^*+#])\1{2,}\s*$")
BULLET = re.compile(r"^\s*(?:[-*+\u2022]|\d+[.)]|\(\w\)|#\.)\s+")
ROLE = re.compile(r":[\w:.+-]+:`~?(?:[^`<]*<)?([^`>]+)>?`")  # :class:`~a.B` -> a.B, :ref:`text <t>` -> t
# **strong** and *emphasis*, not *args, **kwargs or a*b
EMPHASIS = re.compile(r"(?<![\w*])\*\*([^*\s](?:[^*]*[^*\s])?)\*\*(?![\w*])"
                      r"|(?<![\w*])\*([^*\s](?:[^*]*[^*\s])?)\*(?![\w*])")
DEFINITION = re.compile(r"^[\w.*]+(\s*\([^)]*\))?\s*(:|--?|\u2014)\s")  # "name (type): ...", "name - ..."
CODE_CHARS = re.compile(r"[{}\[\]=<>|\\$@#]|->|\(\)|==|\w\.\w+\(")


# ---- collecting docstrings --------------------------------------------------------------------------------
def default_roots() -> list[str]:
    paths = sysconfig.get_paths()
    return [paths["stdlib"], paths["purelib"]]


def python_files(root: Path) -> list[Path]:
    """The .py files under root in sorted order, skipping test, vendored and tool directories."""
    out = []
    for here, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and "." not in d)  # not x.dist-info, x-1.0.egg
        out += [Path(here) / f for f in sorted(files)
                if f.endswith(".py") and not f.startswith(("test_", "conftest")) and not f.endswith("_test.py")]
    return out


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__" and len(parts) > 1:
        parts.pop()
    return ".".join(parts)


def docstrings(tree: ast.Module) -> list[tuple[str, str]]:
    """(qualname, cleaned docstring) of the module ("<module>"), its classes and functions, nested ones too."""
    found = []

    def visit(node, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                name = prefix + child.name
                doc = ast.get_docstring(child, clean=True)
                if doc:
                    found.append((name, doc))
                visit(child, name + ".")

    doc = ast.get_docstring(tree, clean=True)
    if doc:
        found.append(("<module>", doc))
    visit(tree, "")
    return found


def read_tree(path: Path) -> ast.Module | None:
    """The parsed file, or None when it is too large, unreadable or not valid Python for this interpreter."""
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            return None
        source = path.read_bytes()
        with warnings.catch_warnings():  # invalid escape sequences in old sources
            warnings.simplefilter("ignore")
            return ast.parse(source, filename=str(path))
    except (OSError, SyntaxError, ValueError, RecursionError):
        return None


# ---- turning a docstring into a pair ----------------------------------------------------------------------
def unmark(text: str) -> str:
    """reStructuredText inline markup to plain text: roles, ``literals``, `refs`_, **strong**, *emphasis*."""
    text = ROLE.sub(r"\1", text)
    text = re.sub(r"``([^`]+)``", r"\1", text)
    text = re.sub(r"`([^`<]+?)(?:\s*<[^>]*>)?`_{0,2}", r"\1", text)  # `ref <target>`_ -> ref
    text = text.replace("`", "")  # markdown code spans (`a/<b>.json`)
    text = re.sub(r"\[([^\]]+)\]\([^)\s]*\)", r"\1", text)  # markdown links: [text](url) -> text
    text = re.sub(r"(?<![\w\])])\[~?([A-Za-z_][\w.]*)\]", r"\1", text)  # Hugging Face cross-references: [~a.B]
    text = EMPHASIS.sub(lambda m: m.group(1) or m.group(2), text)
    return " ".join(text.split())


def is_section(lines: list[str], i: int) -> bool:
    """Does a field list or a numpy or google style section start at lines[i]?"""
    line = lines[i].strip()
    if FIELD.match(line):
        return True
    if line and i + 1 < len(lines) and UNDERLINE.match(lines[i + 1]) and not UNDERLINE.match(line):
        return True  # numpy: a title underlined with ---
    return line.endswith(":") and line.rstrip(":").strip().lower() in SECTIONS  # google: "Args:"


def prose_paragraphs(body_lines: list[str]) -> list[str]:
    """The body's prose paragraphs, each on one line, up to the first section header or field list."""
    kept: list[list[str]] = []
    current: list[str] = []
    for i, line in enumerate(body_lines + [""]):
        if line.strip() and is_section(body_lines, i):
            break
        if line.strip():
            current.append(line)
            continue
        if current:
            kept.append(current)
            current = []
    if current:
        kept.append(current)
    return [text for text in (prose(p) for p in kept) if text]


def prose(paragraph: list[str]) -> str | None:
    """One paragraph as a line of prose, or None for code, doctests, literal blocks, tables and directives."""
    first = paragraph[0]
    if first[:1].isspace() or first.lstrip().startswith((">>>", "...", ".. ", "|", "+-", "$ ", "%")):
        return None  # an indented (literal, code or continuation) block, a doctest, a directive, a table
    lines = []
    for line in paragraph:
        stripped = line.strip()
        if stripped.startswith((">>>", "...")) or UNDERLINE.match(line) or "====" in stripped:
            return None
        if line[:1].isspace() and lines and lines[-1].endswith(":"):
            break  # a nested block (a list of fields, code) under "...:": the prose ends before it
        lines.append(BULLET.sub("", stripped))
    if lines and lines[-1].endswith(":") and len(lines[-1].split()) <= 4:
        lines.pop()  # the lead-in of the block cut above ("Defined fields:")
    if len(lines) >= 2 and sum(bool(DEFINITION.match(line)) for line in lines) * 2 >= len(lines):
        return None  # a definition list ("name - what it is", "name: what it is"), not prose
    if not lines:
        return None
    text = unmark(" ".join(lines))
    if text.endswith("::"):
        text = text[:-1]  # "as follows::" introduces a literal block, dropped above
    words = text.split()
    if not words or sum(bool(re.fullmatch(r"[(\"']?[A-Za-z][a-z'-]*[.,;:!?)\"']*", w)) for w in words) < \
            MIN_ALPHA_SHARE * len(words) or len(CODE_CHARS.findall(text)) > max(2, len(words) // 10):
        return None  # mostly identifiers, numbers or symbols: code, not prose
    return text


def make_pair(doc: str) -> tuple[str, str] | None:
    """(summary line, prose body) of one cleaned docstring, or None when it gives no usable pair."""
    lines = doc.expandtabs().splitlines()
    split = next((i for i, line in enumerate(lines) if not line.strip()), len(lines))
    head = lines[:split]
    if not head or len(head) > REF_MAX_LINES or any(line[:1].isspace() for line in head):
        return None
    ref = unmark(" ".join(line.strip() for line in head))
    words = ref.split()
    if not REF_WORDS[0] <= len(words) <= REF_WORDS[1] or not (ref[-1].isalpha() or ref.endswith(".")):
        return None
    if ref.startswith((">>>", ":", "@", "..", "#")) or re.match(r"^[\w.]+\(.*\)", ref) or ref.endswith("...") \
            or "://" in ref:
        return None  # a signature, doctest, field or link, not a summary
    if sum(w[0].isalpha() for w in words) < 0.8 * len(words):
        return None
    body = " ".join(prose_paragraphs(lines[split + 1:]))
    if not BODY_WORDS[0] <= len(body.split()) <= BODY_WORDS[1]:
        return None
    if ref.lower().rstrip(".") in body.lower():
        return None  # the body repeats the summary: nothing to summarize
    return ref, body


def collect(roots: list[Path]) -> tuple[list[dict], dict[str, int]]:
    """Every pair of the roots' .py files, in sorted walk order, exact duplicate bodies dropped (the first kept).
    Also returns counts of what was read and dropped."""
    pairs, seen = [], set()
    counts = {"files": 0, "unparsed_files": 0, "docstrings": 0, "duplicate_bodies": 0}
    for root in roots:
        for path in python_files(root):
            counts["files"] += 1
            tree = read_tree(path)
            if tree is None:
                counts["unparsed_files"] += 1
                continue
            module = module_name(path, root)
            for qualname, doc in docstrings(tree):
                counts["docstrings"] += 1
                pair = make_pair(doc)
                if pair is None:
                    continue
                key = re.sub(r"\W+", " ", pair[1].lower()).strip()  # case/punctuation variants are duplicates
                if key in seen:
                    counts["duplicate_bodies"] += 1
                    continue
                seen.add(key)
                pairs.append({"body": pair[1], "summary": pair[0], "source": f"{module}:{qualname}",
                              "package": module.split(".")[0], "root": str(root)})
    return pairs, counts


# ---- the split by package ---------------------------------------------------------------------------------
def package_hash(name: str, seed: int) -> str:
    return hashlib.sha256(f"{seed}:{name}".encode()).hexdigest()


def split_by_package(pairs: list[dict], *, seed: int, test_size: int) -> tuple[list[dict], list[dict], list[dict]]:
    """(test, docs, titles) pairs: whole packages in each, in the order of their seeded hash.

    Test: packages of at most test_size pairs, taken in hash order until test_size pairs are held (then a seeded
    sample of test_size), so one large package cannot fill it alone. The other packages go, in hash order, to
    whichever of docs and titles holds fewer pairs: two disjoint halves of about equal size."""
    by_package: dict[str, list[dict]] = {}
    for pair in pairs:
        by_package.setdefault(pair["package"], []).append(pair)
    order = sorted(by_package, key=lambda name: package_hash(name, seed))
    test, docs, titles = [], [], []
    for name in order:
        group = by_package[name]
        if len(test) < test_size and len(group) <= test_size:
            test += group
        elif len(docs) <= len(titles):
            docs += group
        else:
            titles += group
    rng = random.Random(seed)
    test = rng.sample(test, min(len(test), test_size))  # shuffled too: --limit-style prefixes mix packages
    rng.shuffle(docs)
    rng.shuffle(titles)
    return test, docs, titles


# ---- reporting --------------------------------------------------------------------------------------------
def length_stats(texts: list[str]) -> dict:
    """Mean, median, 90th and 99th percentile word counts (nearest rank)."""
    if not texts:
        return {"n": 0}
    words = sorted(len(t.split()) for t in texts)

    def rank(q: float) -> int:
        return words[min(len(words) - 1, max(0, round(q * len(words)) - 1))]

    return {"n": len(words), "mean": round(statistics.fmean(words), 1), "median": float(statistics.median(words)),
            "p90": rank(0.9), "p99": rank(0.99)}


def package_versions(names: set[str], roots: list[Path]) -> dict[str, str | None]:
    """Distribution and version of each contributing top-level name; the standard library's as "python"."""
    from importlib import metadata

    stdlib = Path(sysconfig.get_paths()["stdlib"]).resolve()
    dists = metadata.packages_distributions()
    out: dict[str, str | None] = {}
    for name in sorted(names):
        if name in dists:
            for dist in dists[name]:
                try:
                    out[dist] = metadata.version(dist)
                except metadata.PackageNotFoundError:
                    out[dist] = None
        elif any((root.resolve() == stdlib) and ((root / name).exists() or (root / f"{name}.py").exists())
                 for root in roots):
            out["python-stdlib"] = sys.version.split()[0]
        else:
            out[name] = None  # a module outside any installed distribution
    return dict(sorted(out.items()))


def write_jsonl(path: Path, rows: list[dict]) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--output", required=True, help="folder for test.jsonl, docs.jsonl, titles.txt, manifest")
    parser.add_argument("--seed", type=int, default=0, help="seed of the package split and the shuffles")
    parser.add_argument("--test-size", type=int, default=1000, help="held-out pairs, >= 1")
    parser.add_argument("--max-docs", type=int, default=60000, help="training documents kept at most, >= 1")
    parser.add_argument("--dev-size", type=int, default=500,
                        help="training documents written with their summary lines to dev.jsonl, >= 0")
    parser.add_argument("--roots", nargs="+", default=None,
                        help="folders of .py files to read (default: the standard library and site-packages)")
    args = parser.parse_args(argv)
    if args.test_size < 1 or args.max_docs < 1 or args.dev_size < 0:
        parser.error(f"--test-size and --max-docs must be >= 1 and --dev-size >= 0, got {args.test_size}, "
                     f"{args.max_docs} and {args.dev_size}")
    roots = [Path(r) for r in (args.roots or default_roots())]
    missing = [str(r) for r in roots if not r.is_dir()]
    if missing:
        parser.error(f"--roots: not a folder: {', '.join(missing)}")

    pairs, counts = collect(roots)
    test, docs, titles = split_by_package(pairs, seed=args.seed, test_size=args.test_size)
    docs = docs[: args.max_docs]
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    write_jsonl(out / "test.jsonl", [{k: p[k] for k in ("body", "summary", "source")} for p in test])
    write_jsonl(out / "docs.jsonl", [{k: p[k] for k in ("body", "source")} for p in docs])
    write_jsonl(out / "dev.jsonl", [{k: p[k] for k in ("body", "summary", "source")} for p in docs[: args.dev_size]])
    (out / "titles.txt").write_text("".join(p["summary"] + "\n" for p in titles), encoding="utf-8")

    used = {p["package"] for p in test + docs + titles}
    manifest = {
        "counts": {**counts, "pairs": len(pairs), "test": len(test), "docs": len(docs), "titles": len(titles),
                   "dev": min(args.dev_size, len(docs)),
                   "packages": {"test": len({p["package"] for p in test}), "docs": len({p["package"] for p in docs}),
                                "titles": len({p["package"] for p in titles})}},
        "words": {"docs_body": length_stats([p["body"] for p in docs]),
                  "titles": length_stats([p["summary"] for p in titles]),
                  "test_body": length_stats([p["body"] for p in test]),
                  "test_reference": length_stats([p["summary"] for p in test])},
        "python": sys.version.split()[0], "roots": [str(r) for r in roots],
        "packages": package_versions(used, roots), "seed": args.seed,
        "command": ["scripts/prepare_docstrings.py", *(sys.argv[1:] if argv is None else argv)],
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    w = manifest["words"]
    print(f"{len(pairs)} pairs from {counts['files']} files: test {len(test)}, docs {len(docs)}, titles "
          f"{len(titles)}; body words mean {w['docs_body'].get('mean')}, reference words mean "
          f"{w['test_reference'].get('mean')} -> {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
