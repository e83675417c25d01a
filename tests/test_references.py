"""Every dotted ``mijabench.x.y`` named in code, docs and cards resolves to a real module or attribute.

A reference resolves when its longest importable prefix is a module and the rest are attributes
of it (``mijabench.schema.AUDIT_SCHEMA``, ``mijabench.run_audit``). Stale names left behind by a
move (a module that became ``mijabench.analysis.metrics``) fail here. ``from mijabench.x import a, b``
lines count as ``mijabench.x.a`` and ``mijabench.x.b`` (they matter in Markdown code blocks, which
nothing else runs). Logger names (``getLogger("mijabench.dpo")``) are a namespace, not modules.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCANNED = ["mijabench", "tests", "benchmarks", "align", "eval", "spaces", "dataset_builders", "cards",
           "README.md", "CONTRIBUTING.md"]
SUFFIXES = {".py", ".md"}
# Not after a word character, '/', '.' or '-': skips file names (cards/mijabench.md) and ids.
REFERENCE = re.compile(r"(?<![\w/.\-])mijabench(?:\.[A-Za-z_][A-Za-z0-9_]*)+")
# File names that read like references: the package's own files (mijabench.egg-info etc.).
NOT_REFERENCES = {"mijabench.md", "mijabench.egg", "mijabench.yaml", "mijabench.json"}
FROM_IMPORT = re.compile(r"\bfrom\s+(mijabench(?:\.\w+)*)\s+import\s+\(?([\w\s,]+)")
LOGGER = re.compile(r"getLogger\(\s*[\"'][^\"']*[\"']")
SELF = Path(__file__).resolve()  # this file names stale references on purpose


def files() -> list[Path]:
    out = []
    for name in SCANNED:
        path = ROOT / name
        if path.is_file():
            out.append(path)
        elif path.is_dir():
            out += [p for p in sorted(path.rglob("*")) if p.suffix in SUFFIXES and p.is_file()
                    and not {".venv", "__pycache__", ".git"} & set(p.relative_to(ROOT).parts)]
    return [p for p in out if p.resolve() != SELF]


def names_in(line: str) -> list[str]:
    """The dotted ``mijabench`` names one line refers to."""
    line = LOGGER.sub("", line)
    names = [m.group(0) for m in REFERENCE.finditer(line) if m.group(0) not in NOT_REFERENCES]
    for match in FROM_IMPORT.finditer(line):
        for item in match.group(2).split(","):
            words = item.split()
            if words:  # "name" or "name as alias"
                names.append(f"{match.group(1)}.{words[0]}")
    return names


def references() -> dict[str, list[str]]:
    """Dotted name -> the ``file:line`` places that name it."""
    found: dict[str, list[str]] = {}
    for path in files():
        for lineno, line in enumerate(path.read_text("utf-8", errors="replace").splitlines(), 1):
            for name in names_in(line):
                found.setdefault(name, []).append(f"{path.relative_to(ROOT)}:{lineno}")
    return found


def resolves(name: str) -> bool:
    parts = name.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError as exc:
            if exc.name is not None and not name.startswith(exc.name):
                raise  # a real missing dependency inside a module, not a stale name
            continue
        for attr in parts[cut:]:
            if not hasattr(obj, attr):
                return False
            obj = getattr(obj, attr)
        return True
    return False


def test_scanner_finds_references_and_skips_file_names():
    text = "see mijabench.schema.AUDIT_SCHEMA and cards/mijabench.md, `mijabench.errors`."
    assert names_in(text) == ["mijabench.schema.AUDIT_SCHEMA", "mijabench.errors"]
    assert names_in("from mijabench.hub import loaders as hl, cards  # x") == [
        "mijabench.hub", "mijabench.hub.loaders", "mijabench.hub.cards"]
    assert names_in("from mijabench import (load_run,") == ["mijabench.load_run"]
    assert names_in('log = logging.getLogger("mijabench.dpo")') == []
    assert resolves("mijabench.analysis.metrics.summarize")
    assert resolves("mijabench.run_audit")  # the lazy public API resolves like any attribute
    assert not resolves("mijabench.metrics")
    assert not resolves("mijabench.schema.NO_SUCH_NAME")


def test_every_reference_resolves():
    found = references()
    assert len(found) > 20, "the scan found almost nothing; check SCANNED"
    stale = {name: places for name, places in sorted(found.items()) if not resolves(name)}
    assert not stale, "references to modules or names that do not exist:\n" + "\n".join(
        f"  {name}  ({', '.join(places[:5])})" for name, places in stale.items())


@pytest.mark.parametrize("name", ["mijabench.metrics", "mijabench.compose.counterfactual_rows",
                                  "mijabench.hub_loaders", "mijabench.securebreak_card"])
def test_stale_names_are_caught(name):
    assert not resolves(name)
