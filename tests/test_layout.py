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


ANALYSIS = SRC / "analysis"
ANALYSIS_QUESTIONS = ("waves", "topography", "lattice", "probes")


def test_analysis_is_grouped_by_question_each_subpackage_saying_what_it_answers():
    subpackages = sorted(p.parent.name for p in ANALYSIS.glob("*/__init__.py"))
    assert subpackages == sorted(ANALYSIS_QUESTIONS)
    for name in ANALYSIS_QUESTIONS:
        tree = ast.parse((ANALYSIS / name / "__init__.py").read_text())
        docstring = ast.get_docstring(tree)
        assert docstring and "?" in docstring.splitlines()[0], f"analysis.{name} asks no question"
        code = [node for node in tree.body[1:] if not isinstance(node, ast.ImportFrom)]
        assert not code and len(tree.body) == 1, f"analysis.{name}/__init__ holds more than a map"
    top = [p.stem for p in ANALYSIS.glob("*.py") if p.stem != "__init__"]
    assert sorted(top) == ["after_training", "commands"]


def test_analysis_never_imports_training_the_reproduce_package_or_the_cli():
    wrong = [f"{path.relative_to(SRC)} imports locornn.{name}"
             for path in ANALYSIS.rglob("*.py")
             for name in _imports(path) if name in ("train", *ABOVE_THE_LIBRARY)]
    assert not wrong, "\n".join(wrong)
