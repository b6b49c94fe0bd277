"""Sphinx configuration: autodoc + numpydoc, and the sphinx-gallery of examples/ when
sphinx-gallery is installed (``pip install -e ".[docs]"`` installs it).

Build with ``sphinx-build -b html docs docs/_build``.
"""

import os
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
# Document the checkout even when skgd is not installed.
sys.path.insert(0, str(DOCS.parent))
os.environ.setdefault("MPLBACKEND", "Agg")

import skgd  # noqa: E402

project = "skgd"
author = "skgd developers"
copyright = "skgd developers, BSD-3-Clause"
release = skgd.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
]

# numpydoc: do not list every inherited scikit-learn method as a class member table.
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
autodoc_default_options = {"exclude-members": "set_fit_request, set_partial_fit_request, set_score_request"}
autodoc_member_order = "bysource"

templates_path = []
exclude_patterns = ["_build", "**.ipynb_checkpoints"]
html_theme = "alabaster"
html_static_path = []

try:
    import sphinx_gallery  # noqa: F401
except ImportError:
    # Without sphinx-gallery, a plain page lists the example scripts instead.
    gallery = DOCS / "auto_examples"
    gallery.mkdir(exist_ok=True)
    lines = ["Examples", "========", "",
             "Install sphinx-gallery (``pip install -e \".[docs]\"``) to render the "
             "gallery. The scripts, in ``examples/``:", ""]
    for script in sorted((DOCS.parent / "examples").glob("plot_*.py")):
        lines.append(f"- ``examples/{script.name}``")
    (gallery / "index.rst").write_text("\n".join(lines) + "\n")
else:
    import ast
    import importlib.util
    import re

    def _needs_missing_module(script, optional=("dask", "distributed", "dask_ml")):
        """True if the example imports an optional module that is not installed."""
        roots = set()
        for node in ast.walk(ast.parse(script.read_text())):
            if isinstance(node, ast.Import):
                roots.update(a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                roots.add(node.module.split(".")[0])
        return any(importlib.util.find_spec(m) is None for m in roots & set(optional))

    # Examples whose extra (e.g. ``[dask]``) is not installed are left out of the
    # gallery instead of failing the build.
    skipped = [p.name for p in sorted((DOCS.parent / "examples").glob("plot_*.py"))
               if _needs_missing_module(p)]
    extensions.append("sphinx_gallery.gen_gallery")
    sphinx_gallery_conf = {
        "examples_dirs": "../examples",
        "gallery_dirs": "auto_examples",
        "filename_pattern": r"/plot_",
        "ignore_pattern": "|".join([r"__init__\.py"] + [re.escape(n) for n in skipped]),
        "download_all_examples": False,
        "remove_config_comments": True,
        "reference_url": {"skgd": None},
        "write_computation_times": False,
    }
