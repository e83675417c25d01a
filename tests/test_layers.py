"""The package's import layers (``tests/layers.py``): no cycles, no upward imports, every module placed."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import layers  # noqa: E402

PACKAGE = Path(__file__).resolve().parent.parent / "mijabench"
TOY_LAYERS = [("base", ["errors", "a", "b"]), ("high", ["high"]), ("api", ["", "api"])]


def write_package(root: Path, files: dict[str, str]) -> Path:
    """A package ``pkg`` under ``root`` from {relative path: source}; returns its folder."""
    pkg = root / "pkg"
    for rel, source in {"__init__.py": "", **files}.items():
        path = pkg / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source))
    return pkg


def test_mijabench_has_no_cycles_or_upward_imports():
    assert layers.check(PACKAGE) == []


def test_every_module_is_in_exactly_one_layer():
    placed = [name for _, members in layers.LAYERS for name in members]
    assert len(placed) == len(set(placed)), "a name sits in two layers"
    mods = layers.modules(PACKAGE)
    assert {"mijabench", "mijabench.api", "mijabench.cli", "mijabench.judge.base"} <= set(mods)
    assert [m for m in mods if layers.layer_index(m) is None] == []
    for prefix, layer in layers.CAPS.items():
        assert f"mijabench.{prefix}" in mods and layer in [n for n, _ in layers.LAYERS]


def test_a_cycle_through_a_function_level_import_is_found(tmp_path):
    pkg = write_package(tmp_path, {
        "a.py": "from pkg import b\n",
        "b.py": """
            def later():
                from pkg.a import thing  # function level: still an import
                return thing
            """,
        "errors.py": "",
    })
    assert layers.check(pkg, TOY_LAYERS) == ["cycle: pkg.a -> pkg.b -> pkg.a"]


def test_an_upward_import_is_found(tmp_path):
    pkg = write_package(tmp_path, {
        "errors.py": "from pkg.high.judge import Verdict\n",
        "high/__init__.py": "",
        "high/judge.py": "from pkg.errors import *\nVerdict = object\n",
    })
    assert layers.check(pkg, TOY_LAYERS) == [
        "cycle: pkg.errors -> pkg.high.judge -> pkg.errors",
        "upward import: pkg.errors (base) imports pkg.high.judge (high)",
    ]
    (pkg / "high" / "judge.py").write_text("Verdict = object\n")
    assert layers.check(pkg, TOY_LAYERS) == [
        "upward import: pkg.errors (base) imports pkg.high.judge (high)"]


def test_relative_imports_are_resolved(tmp_path):
    pkg = write_package(tmp_path, {
        "errors.py": "",
        "a.py": "from . import errors\nfrom .high import judge\n",
        "high/__init__.py": "",
        "high/judge.py": "from ..errors import x\nfrom . import rules\nfrom .rules import y\n",
        "high/rules.py": "",
    })
    graph = layers.import_graph(pkg)
    assert graph["pkg.a"] == {"pkg.errors", "pkg.high", "pkg.high.judge"}
    assert graph["pkg.high.judge"] == {"pkg.errors", "pkg.high.rules"}
    assert layers.check(pkg, TOY_LAYERS) == [
        "upward import: pkg.a (base) imports pkg.high (high)",
        "upward import: pkg.a (base) imports pkg.high.judge (high)"]


def test_lazy_package_names_count_as_imports_of_the_module_behind_them(tmp_path):
    pkg = write_package(tmp_path, {
        "__init__.py": """
            __version__ = "1"

            def __getattr__(name):
                from pkg import api
                return getattr(api, name)
            """,
        "api.py": "from pkg.high import judge\n",
        "errors.py": "from pkg import __version__\n",  # a plain attribute of the package: fine
        "a.py": "from pkg import run_it\n",            # served lazily by pkg.api: upward
        "high/__init__.py": "",
        "high/judge.py": "",
    })
    assert layers.import_graph(pkg)["pkg.errors"] == set()
    assert layers.check(pkg, TOY_LAYERS) == ["upward import: pkg.a (base) imports pkg.api (api)"]


def test_capped_modules_and_unplaced_modules_are_reported(tmp_path):
    pkg = write_package(tmp_path, {
        "errors.py": "",
        "high/__init__.py": "",
        "high/base.py": "from pkg.high import rules\n",
        "high/rules.py": "",
        "stray.py": "",
    })
    assert layers.check(pkg, TOY_LAYERS, caps={"high.base": "base"}) == [
        "no layer: pkg.stray (add it to LAYERS in tests/layers.py and to CONTRIBUTING.md)",
        "upward import: pkg.high.base (high, held to base) imports pkg.high.rules (high)"]


@pytest.mark.parametrize("module, layer", [("mijabench", "api"), ("mijabench.api", "api"),
                                           ("mijabench.judge.rules", "judge"),
                                           ("mijabench.errors", "base")])
def test_layer_of_known_modules(module, layer):
    assert layers.LAYERS[layers.layer_index(module)][0] == layer
