"""The gallery examples run headless and produce their figure; README and CI agree.

Each ``examples/plot_*.py`` runs in its own interpreter, in a temporary working
directory, with the Agg backend and ``SKGD_EXAMPLES_OUT`` pointing at that directory,
exactly as a user would run it. The examples assert their own results (for instance
that early stopping restores the best epoch), so a non-zero exit is a real failure.
"""

import ast
import inspect
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("plot_*.py"))
# Generous: a fresh checkout compiles the Numba kernels (tens of seconds on a busy
# 2-core machine) in the first example that runs, and user-optimizer kernels are never
# cached on disk.
TIMEOUT = 900
# Modules some examples need beyond the test extra, and the extra that installs them.
# An example importing one of them is skipped (not failed) when it is not installed.
OPTIONAL_MODULES = {"dask": "dask", "distributed": "dask", "dask_ml": "dask"}


def _missing_optional(path):
    """(module, extra) pairs imported by the example and not installed here."""
    roots = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            roots.add(node.module.split(".")[0])
    return [(m, OPTIONAL_MODULES[m]) for m in sorted(roots & set(OPTIONAL_MODULES))
            if importlib.util.find_spec(m) is None]


def test_examples_exist():
    names = {p.name for p in EXAMPLES}
    required = {"plot_demo.py", "plot_optimizers.py", "plot_partial_fit_csv.py",
                "plot_early_stopping.py", "plot_custom_optimizer.py"}
    assert required <= names, f"missing examples: {sorted(required - names)}"


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_has_gallery_title(path):
    # sphinx-gallery needs a module docstring whose title is over- and underlined.
    doc = ast.get_docstring(ast.parse(path.read_text()), clean=False)
    assert doc, f"{path.name} has no module docstring"
    lines = doc.strip("\n").splitlines()
    assert len(lines) >= 3 and set(lines[0]) == {"="} and set(lines[2]) == {"="}, (
        f"{path.name}: the docstring must open with a '====' framed title"
    )
    assert lines[1].strip(), f"{path.name}: empty title"


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_runs(path, tmp_path):
    missing = _missing_optional(path)
    if missing:
        pytest.skip(f"{path.name} needs {', '.join(m for m, _ in missing)}: "
                    f"pip install -e \".[{missing[0][1]}]\"")
    env = dict(os.environ, MPLBACKEND="Agg", SKGD_EXAMPLES_OUT=str(tmp_path))
    proc = subprocess.run(
        [sys.executable, str(path)], cwd=tmp_path, env=env, capture_output=True,
        text=True, timeout=TIMEOUT, stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, (
        f"{path.name} exited with {proc.returncode}\n--- stdout\n{proc.stdout[-4000:]}"
        f"\n--- stderr\n{proc.stderr[-4000:]}"
    )
    figure = tmp_path / (path.stem + ".png")
    assert figure.is_file() and figure.stat().st_size > 10_000, (
        f"{path.name} did not save {figure.name} to SKGD_EXAMPLES_OUT"
    )


def _readme_commands():
    text = (ROOT / "README.md").read_text()
    block = re.search(r"```(?:bash|sh|console)?\n(.*?)```", text, re.S)
    assert block, "README.md must open with a code block holding the two commands"
    return [line.strip() for line in block.group(1).splitlines()
            if line.strip() and not line.lstrip().startswith("#")]


def test_readme_opens_with_demo_and_test_commands():
    commands = _readme_commands()
    assert len(commands) == 2, commands
    demo, tests = commands
    assert "examples/plot_demo.py" in demo
    assert "pytest" in tests
    # The extras the commands install must exist in pyproject.toml.
    pyproject = (ROOT / "pyproject.toml").read_text()
    for extra in re.findall(r'\[([a-z,]+)\]"', demo + tests):
        for name in extra.split(","):
            assert re.search(rf"^{name}\s*=", pyproject, re.M), f"no extra {name!r}"


def test_ci_runs_the_readme_test_command():
    # CI must run what the README tells people to run: every step of the README's test
    # command appears verbatim in .ci/run (which adds the no-tests check).
    ci = (ROOT / ".ci" / "run").read_text()
    _, tests = _readme_commands()
    for step in tests.split("&&"):
        assert step.strip() in ci, f"{step.strip()!r} of the README is not in .ci/run"
    assert "set -euo pipefail" in ci


def _rst_python_blocks(path):
    """The ``.. code-block:: python`` bodies of an rst file, dedented."""
    blocks, lines, i = [], path.read_text().splitlines(), 0
    while i < len(lines):
        if lines[i].strip() == ".. code-block:: python":
            i += 1
            body = []
            while i < len(lines) and (not lines[i].strip() or lines[i].startswith("   ")):
                body.append(lines[i][4:] if lines[i].startswith("    ") else "")
                i += 1
            blocks.append("\n".join(body))
        else:
            i += 1
    return blocks


DOC_PAGES = sorted((ROOT / "docs").glob("*.rst"))


def test_docs_have_python_snippets():
    # Guards the parser above: the user guide's snippets must be found to be run.
    assert len(_rst_python_blocks(ROOT / "docs" / "user_guide.rst")) >= 4


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("page", DOC_PAGES, ids=lambda p: p.name)
def test_docs_code_blocks_run(page):
    # Every Python snippet of the docs runs as written (snippets of one page share a
    # namespace, in order), so the documentation cannot drift from the code.
    blocks = _rst_python_blocks(page)
    namespace = {"__name__": "__docs__"}
    for number, block in enumerate(blocks, 1):
        exec(compile(block, f"{page.name} block {number}", "exec"), namespace)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_readme_python_runs():
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert blocks, "README.md has no Python quick start"
    namespace = {"__name__": "__readme__"}
    for number, block in enumerate(blocks, 1):
        exec(compile(block, f"README.md block {number}", "exec"), namespace)


def test_documented_custom_optimizer_is_the_tested_one():
    # docs/optimizers.rst includes this code between the markers; the example runs it.
    source = (ROOT / "examples" / "plot_custom_optimizer.py").read_text()
    assert "# start-custom-optimizer" in source and "# end-custom-optimizer" in source
    docs = (ROOT / "docs" / "optimizers.rst").read_text()
    assert "start-after: # start-custom-optimizer" in docs


def _documented_parameters(cls):
    """``{name: type line}`` of the numpydoc Parameters section of ``cls``."""
    doc = inspect.cleandoc(cls.__doc__ or "").replace("\\\n", "")
    section = re.search(r"\nParameters\n-+\n(.*?)(?:\n\n\S[^\n]*\n-+\n|\Z)", doc, re.S)
    documented = {}
    for line in (section.group(1).splitlines() if section else []):
        if line and not line.startswith(" "):
            names, _, kind = line.partition(" :")
            documented.update((name.strip(), kind.strip()) for name in names.split(","))
    return documented


def _public_classes():
    from skgd import GDClassifier, GDRegressor, optimizers, schedules
    from skgd.dask import DataParallelGD

    classes = [GDClassifier, GDRegressor, DataParallelGD]
    for module in (optimizers, schedules):
        classes += [getattr(module, n) for n in module.__all__
                    if isinstance(getattr(module, n), type)]
    return classes


@pytest.mark.parametrize("cls", _public_classes(), ids=lambda c: c.__name__)
def test_docstring_parameters_match_the_signature(cls):
    # The API reference is generated from these docstrings: AdamW and InvScaling
    # documented none of their parameters.
    params = {name: p.default for name, p in inspect.signature(cls.__init__).parameters.items()
              if name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}
    documented = _documented_parameters(cls)
    assert set(documented) == set(params), (
        f"undocumented: {sorted(set(params) - set(documented))}, "
        f"not parameters: {sorted(set(documented) - set(params))}")
    for name, kind in documented.items():
        default = re.search(r"default=(.+)$", kind)
        if default:
            assert params[name] == ast.literal_eval(default.group(1).strip()), name


@pytest.mark.parametrize("component, names", [
    ("learning_rate", "SCHEDULES"), ("optimizer", "OPTIMIZERS")])
def test_regressor_docstring_names_every_accepted_name(component, names):
    # GDRegressor's docstring is the reference both estimators point to; it left out
    # the schedule names "exponential", "cosine" and "warmup".
    from skgd import GDRegressor, optimizers, schedules

    accepted = getattr(schedules if component == "learning_rate" else optimizers, names)
    entry = _documented_parameters(GDRegressor)[component]
    text = inspect.cleandoc(GDRegressor.__doc__)
    body = text.split(f"\n{component} : {entry}\n", 1)[1].split("\n", 8)
    described = " ".join(line for line in body if line.startswith(" "))
    missing = [name for name in accepted if f'"{name}"' not in described]
    assert not missing, missing
