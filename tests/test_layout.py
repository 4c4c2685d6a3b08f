"""The package's shape: the library below, ``locornn.reproduce`` above it, old paths kept."""

import ast
import importlib
import pathlib
import sys

import pytest

SRC = pathlib.Path(__file__).resolve().parents[1] / "src" / "locornn"
MOVED = ("table", "ablation", "sequence_ablation", "budget", "figures", "runs", "seeds")
ABOVE_THE_LIBRARY = ("reproduce", "cli", "__main__")


@pytest.mark.parametrize("name", MOVED)
def test_an_old_import_path_gives_the_moved_module_and_warns(name):
    sys.modules.pop(f"locornn.{name}", None)
    with pytest.warns(DeprecationWarning, match=f"locornn.{name} moved to locornn.reproduce"):
        old = importlib.import_module(f"locornn.{name}")
    assert old is importlib.import_module(f"locornn.reproduce.{name}")


def _imports(path: pathlib.Path):
    """The ``locornn`` subpackages or modules that ``path`` imports (at any depth of code)."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("locornn"):
            if node.module == "locornn":
                yield from (alias.name for alias in node.names)
            else:
                yield node.module.split(".")[1]
        elif isinstance(node, ast.Import):
            yield from (a.name.split(".")[1] for a in node.names if a.name.startswith("locornn."))


def test_the_library_never_imports_the_reproduce_package_or_the_cli():
    wrong = []
    for path in SRC.rglob("*.py"):
        top = path.relative_to(SRC).parts[0].removesuffix(".py")
        if top in ABOVE_THE_LIBRARY or top in MOVED or top == "__init__":
            continue
        wrong += [f"{path.relative_to(SRC)} imports locornn.{name}"
                  for name in _imports(path) if name in ABOVE_THE_LIBRARY]
    assert not wrong, "\n".join(wrong)


def test_the_reproduce_package_never_imports_the_cli():
    wrong = [f"{path.relative_to(SRC)} imports locornn.{name}"
             for path in (SRC / "reproduce").rglob("*.py")
             for name in _imports(path) if name in ("cli", "__main__")]
    assert not wrong, "\n".join(wrong)
