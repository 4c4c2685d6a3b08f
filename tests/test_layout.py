"""The package's shape: the library below, ``locornn.reproduce`` above it, no forwarding modules."""

import ast
import pathlib

SRC = pathlib.Path(__file__).resolve().parents[1] / "src" / "locornn"
ABOVE_THE_LIBRARY = ("reproduce", "cli", "__main__")


def test_no_module_only_forwards_an_import():
    """A module holds code of its own: one that only imports (and calls what it imported, as an
    alias to an old path would) is clutter; a moved name is imported from its new place."""
    own = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Assign, ast.AnnAssign,
           ast.If, ast.For, ast.With, ast.Try)
    forwarding = []
    for path in SRC.rglob("*.py"):
        body = ast.parse(path.read_text()).body
        if path.name == "__init__.py" and all(isinstance(n, ast.Expr) for n in body):
            continue  # a package's map: its docstring alone
        if path.name == "__main__.py":
            continue  # ``python -m locornn``: runs the command line
        if not any(isinstance(node, own) for node in body):
            forwarding.append(str(path.relative_to(SRC)))
    assert not forwarding, forwarding


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
        if top in ABOVE_THE_LIBRARY or top == "__init__":
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


# The architecture table of docs/development.md, top to bottom: a module imports from its own
# row or the rows above, except the imports named here (``importer: imported rows``).
LAYERS = (("dynamics", "metrics", "plots", "exits"), ("configs", "experiments"), ("sharding",),
          ("data",), ("models",), ("tasks",), ("optim",), ("checkpoints",), ("train", "run_log"),
          ("analysis",), ("reproduce",), ("cli", "__main__"))
IMPORTS_FROM_BELOW = {
    "exits": {"configs", "data", "checkpoints", "train"},  # names their errors, lazily
    "configs": {"data"},  # the Hamiltonian systems' names, when a config is first checked
    "tasks": {"analysis"},  # the NumPy wave and free-decay measures of the training probes
    "train": {"analysis"},  # analysis.after_training: the analyses a run's config asks for
}


def test_imports_follow_the_architecture_table():
    row = {name: i for i, names in enumerate(LAYERS) for name in names}
    wrong = []
    for path in SRC.rglob("*.py"):
        top = path.relative_to(SRC).parts[0].removesuffix(".py")
        if top == "__init__":
            continue
        for name in set(_imports(path)) - {"__version__"}:
            if row[name] > row[top] and name not in IMPORTS_FROM_BELOW.get(top, ()):
                wrong.append(f"{path.relative_to(SRC)} imports locornn.{name} from a row below")
    assert not wrong, "\n".join(wrong)

LONG = 600  # lines


def test_a_module_over_600_lines_says_why_it_is_one_module():
    """A long module is split where it mixes concerns; one that stays whole states the reason in
    a ``Length:`` paragraph of its docstring."""
    unexplained = []
    for path in SRC.rglob("*.py"):
        text = path.read_text()
        docstring = ast.get_docstring(ast.parse(text)) or ""
        if len(text.splitlines()) > LONG and "\nLength: one module because" not in docstring:
            unexplained.append(f"{path.relative_to(SRC)}: {len(text.splitlines())} lines")
    assert not unexplained, "\n".join(unexplained)
