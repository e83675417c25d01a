"""The package's layers and an AST walk of its imports (module and function level).

``check(package_dir, layers)`` returns every import cycle, every import of a higher layer and
every module in no layer, as one-line strings; ``tests/test_layers.py`` runs it on ``mijabench/``
and on small synthetic packages. ``python3 tests/layers.py mijabench`` prints the same lines.

How imports are read: ``import a.b`` and ``from a.b import c`` (also relative, also inside
functions) point at the longest known module (``a.b.c`` when it is a module, else ``a.b``). A
package's ``__init__`` is how its children are reached, so a module never depends on its own
ancestors -- except for names an ancestor serves lazily through a module-level ``__getattr__``
(``from mijabench import run_audit``): those point at the modules that ``__getattr__`` imports.
"""

from __future__ import annotations

import ast
from pathlib import Path

# Lowest first. A module may import its own layer and the layers before it, never a later one.
# Members are the first name under the package ("" is the package's own __init__).
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
    ("api", ["", "__main__", "api"]),  # the public Python API (lazy names of the package) and main
]
# Modules held below their layer: the judge interface imports nothing above the base layer, so
# every judge kind and every dataset with verdicts can use it.
CAPS = {"judge.base": "base"}


def modules(package_dir: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every ``.py`` under the package (``__init__`` = the package)."""
    root = Path(package_dir)
    out = {}
    for path in sorted(root.rglob("*.py")):
        parts = (root.name,) + path.relative_to(root).with_suffix("").parts
        if "__pycache__" in parts:
            continue
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _base(name: str, path: Path, node: ast.ImportFrom) -> str:
    """The absolute module a ``from ... import`` names (relative imports resolved)."""
    base = node.module or ""
    if node.level:
        parts = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
        parts = parts[: len(parts) - node.level + 1]
        base = ".".join(parts + ([base] if base else []))
    return base


def _known(target: str, known) -> str:
    while target and target not in known:
        target = target.rpartition(".")[0]
    return target


class _Package:
    """What ``__init__`` files say about their names: defined at top level, or lazy."""

    def __init__(self, mods: dict[str, Path]):
        self.defined: dict[str, set[str]] = {}
        self.lazy: dict[str, list[ast.AST]] = {}
        for name, path in mods.items():
            if path.name != "__init__.py":
                continue
            tree = ast.parse(path.read_text("utf-8"), str(path))
            defined = set()
            for node in tree.body:
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    defined.add(node.name)
                    if node.name == "__getattr__":
                        self.lazy[name] = [n for n in ast.walk(node)
                                           if isinstance(n, (ast.Import, ast.ImportFrom))]
                elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
                    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                    defined |= {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
                elif isinstance(node, (ast.Import, ast.ImportFrom)):
                    defined |= {(a.asname or a.name).split(".")[0] for a in node.names}
            self.defined[name] = defined


def _targets(name: str, path: Path, node: ast.AST, mods: dict[str, Path], pkgs: _Package,
             lazy_seen: frozenset = frozenset()) -> set[str]:
    if isinstance(node, ast.Import):
        names = [a.name for a in node.names]
    else:
        base = _base(name, path, node)
        names = [base]
        for alias in node.names:
            full = f"{base}.{alias.name}"
            if full in mods or alias.name == "*":
                names.append(full)
            elif (base in pkgs.lazy and base not in lazy_seen
                  and alias.name not in pkgs.defined.get(base, set())):
                # served by the package's __getattr__: it depends on what that imports
                for inner in pkgs.lazy[base]:
                    names += _targets(base, mods[base], inner, mods, pkgs, lazy_seen | {base})
    out = set()
    for target in names:
        target = _known(target, mods)
        if target and target != name:
            out.add(target)
    return out


def import_graph(package_dir: Path) -> dict[str, set[str]]:
    """Module -> the package modules it imports (module or function level)."""
    mods = modules(package_dir)
    pkgs = _Package(mods)
    graph = {}
    for name, path in mods.items():
        edges = set()
        for node in ast.walk(ast.parse(path.read_text("utf-8"), str(path))):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                edges |= _targets(name, path, node, mods, pkgs)
        graph[name] = {t for t in edges if not name.startswith(t + ".")}  # never its ancestors
    return graph


def layer_index(module: str, layers=LAYERS) -> int | None:
    """Index in ``layers`` of a dotted module name (``pkg.sub.mod``), or None when in no layer."""
    rel = module.split(".", 1)[1] if "." in module else ""
    head = rel.split(".")[0]
    for i, (_, members) in enumerate(layers):
        if head in members:
            return i
    return None


def _cap(module: str, layers, caps) -> int | None:
    rel = module.split(".", 1)[1] if "." in module else ""
    for prefix, layer in caps.items():
        if rel == prefix or rel.startswith(prefix + "."):
            return [n for n, _ in layers].index(layer)
    return layer_index(module, layers)


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each sorted."""
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
    return sorted(found)


def cycle_path(graph: dict[str, set[str]], component: list[str]) -> list[str]:
    """A shortest import loop through the component's first module, closed: ``[a, b, a]``."""
    start, inside = component[0], set(component)
    came = {start: None}
    frontier = [start]
    while frontier:
        nxt = []
        for v in frontier:
            for w in sorted(graph[v] & inside):
                if w == start:
                    path = [v]
                    while came[path[-1]] is not None:
                        path.append(came[path[-1]])
                    return path[::-1] + [start]
                if w not in came:
                    came[w] = v
                    nxt.append(w)
        frontier = nxt
    return component  # unreachable for a real component


def check(package_dir: Path, layers=LAYERS, caps=CAPS) -> list[str]:
    """Every problem as one line: ``cycle: ...``, ``upward import: ...``, ``no layer: ...``."""
    graph = import_graph(package_dir)
    problems = []
    for comp in cycles(graph):
        loop = cycle_path(graph, comp)
        rest = sorted(set(comp) - set(loop))
        problems.append(f"cycle: {' -> '.join(loop)}" + (f" (tangled with {', '.join(rest)})" if rest else ""))
    names = [n for n, _ in layers]
    for module in sorted(graph):
        if layer_index(module, layers) is None:
            problems.append(f"no layer: {module} (add it to LAYERS in tests/layers.py and to "
                            "CONTRIBUTING.md)")
    for module, targets in sorted(graph.items()):
        mine, cap = layer_index(module, layers), _cap(module, layers, caps)
        if mine is None:
            continue
        for target in sorted(targets):
            theirs = layer_index(target, layers)
            if theirs is not None and theirs > cap:
                held = f", held to {names[cap]}" if cap != mine else ""
                problems.append(f"upward import: {module} ({names[mine]}{held}) imports "
                                f"{target} ({names[theirs]})")
    return problems


if __name__ == "__main__":
    import sys
    for line in check(Path(sys.argv[1] if len(sys.argv) > 1 else "mijabench")) or ["ok"]:
        print(line)
