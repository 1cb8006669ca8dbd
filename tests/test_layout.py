"""The package's import rules, checked by walking every module's imports (docs/architecture.md):

- no module imports another module's _private names;
- training and model code (model/, decode/, fast/, train/) never imports the user-facing layers
  (summarize, scoring, pipeline, cli, commands), and the model never imports training code;
- imports inside functions are for optional or heavy third-party libraries (start-up time) only, and for
  summae's own modules only in the entry points (cli.py, commands.py, __init__.py), which import lazily for
  start-up time.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "summae"
MODULES = sorted(PACKAGE.rglob("*.py"))
USER_LAYERS = ("summae.summarize", "summae.scoring", "summae.pipeline", "summae.cli", "summae.commands")
CORE = ("model", "decode", "fast", "train")
LAZY_OK = {"transformers", "tokenizers", "sentencepiece", "datasets", "accelerate", "tqdm", "matplotlib", "torch",
           "pyarrow", "safetensors", "signal", "threading"}  # heavy or optional: imported where first needed
ENTRY_POINTS = {"cli.py", "commands.py", "__init__.py"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path):
    """(module imported, names, inside a function?) for every import statement of a file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    in_function = set()
    for fn in ast.walk(tree):
        if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            in_function.update(id(n) for n in ast.walk(fn) if isinstance(n, (ast.Import, ast.ImportFrom)))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module, [a.name for a in node.names], id(node) in in_function
        elif isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, [], id(node) in in_function


@pytest.mark.parametrize("path", MODULES, ids=[str(p.relative_to(PACKAGE)) for p in MODULES])
def test_import_rules(path):
    me = module_name(path)
    sub = path.relative_to(PACKAGE).parts[0] if len(path.relative_to(PACKAGE).parts) > 1 else None
    for module, names, lazy in imports(path):
        ours = module == "summae" or module.startswith("summae.")
        if ours and module != me:
            private = [n for n in names if n.startswith("_") and not n.startswith("__")]
            assert not private, f"{me} imports private {private} from {module}"
        if sub in CORE:
            assert not module.startswith(USER_LAYERS), f"{me} ({sub}/) imports the user layer {module}"
        if sub == "model":
            assert not module.startswith("summae.train"), f"{me} (the model) imports training code {module}"
        if lazy:
            if ours:
                assert path.name in ENTRY_POINTS, f"{me} imports {module} inside a function: import it at the top"
            else:
                assert module.split(".")[0] in LAZY_OK, f"{me} imports {module} inside a function"


def test_the_rules_catch_what_they_forbid(tmp_path):
    """The walker sees a private import, a lazy import and the module it comes from."""
    sample = tmp_path / "sample.py"
    sample.write_text("from summae.io import _decode_line\n\ndef f():\n    from summae.summarize import Summarizer\n")
    found = list(imports(sample))
    assert ("summae.io", ["_decode_line"], False) in found
    assert ("summae.summarize", ["Summarizer"], True) in found
