"""The package's layers and an AST walk of its imports (module and function level).

``check(package_dir, layers)`` returns every import cycle and every import of a higher layer;
``tests/test_layers.py`` runs it on ``mijabench/`` and on small synthetic packages.
"""

from __future__ import annotations

import ast
from pathlib import Path

# Lowest first. A module may import its own layer and the layers before it, never a later one.
# The top-level package (the public API) and ``__main__`` sit above every layer.
LAYERS = [
    ("base", ["errors", "schema", "atomic", "taxonomy", "risk", "tables", "specs", "sources",
              "markdown", "resources"]),
    ("hub", ["hub"]),
    ("run", ["run"]),
    ("bench", ["bench"]),
    ("judge", ["judge"]),
    ("analysis", ["analysis"]),
    ("audit", ["audit"]),
    ("derived", ["derived"]),
    ("train", ["train"]),
    ("release", ["release"]),
    ("space", ["space"]),
    ("cli", ["cli"]),
    ("api", ["", "__main__"]),
]


def modules(package_dir: Path) -> dict[str, Path]:
    root = Path(package_dir)
    out = {}
    for path in sorted(root.rglob("*.py")):
        parts = (root.name,) + path.relative_to(root).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _targets(name: str, path: Path, node: ast.AST, known: set[str]) -> set[str]:
    if isinstance(node, ast.Import):
        names = [a.name for a in node.names]
    else:
        base = node.module or ""
        if node.level:
            parts = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
            parts = parts[: len(parts) - node.level + 1]
            base = ".".join(parts + ([base] if base else []))
        names = [f"{base}.{a.name}" for a in node.names] + [base]
    out = set()
    for target in names:
        while target and target not in known:
            target = target.rpartition(".")[0]
        if target and target != name:
            out.add(target)
    return out


def import_graph(package_dir: Path) -> dict[str, set[str]]:
    mods = modules(package_dir)
    graph = {}
    for name, path in mods.items():
        edges = set()
        for node in ast.walk(ast.parse(path.read_text("utf-8"), str(path))):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                edges |= _targets(name, path, node, set(mods))
        # a package's own __init__ is how a child is reached, not a dependency of the child
        graph[name] = {t for t in edges if not name.startswith(t + ".")}
    return graph


def layer_of(module: str, layers) -> int:
    rel = module.split(".", 1)[1] if "." in module else ""
    head = rel.split(".")[0]
    for i, (_, members) in enumerate(layers):
        if head in members:
            return i
    raise KeyError(f"{module}: in no layer; add it to LAYERS in tests/layers.py and CONTRIBUTING.md")


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def check(package_dir: Path, layers=LAYERS) -> list[str]:
    graph = import_graph(package_dir)
    problems = [f"cycle: {' -> '.join(c)}" for c in cycles(graph)]
    for module, targets in sorted(graph.items()):
        for target in sorted(targets):
            if layer_of(target, layers) > layer_of(module, layers):
                problems.append(f"upward import: {module} ({layers[layer_of(module, layers)][0]}) imports "
                                f"{target} ({layers[layer_of(target, layers)][0]})")
    return problems


if __name__ == "__main__":
    import sys
    for line in check(Path(sys.argv[1] if len(sys.argv) > 1 else "mijabench")) or ["ok"]:
        print(line)
