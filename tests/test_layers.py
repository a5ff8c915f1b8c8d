"""The packages' layers: each imports only those below it, and no module imports itself
back through another."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("firmware_py", "hdl", "boards", "sim")
# firmware_py's layers, lowest first; hdl (the gateware) sits on the contract alone
RANK = {"contract": 0, "model": 1, "device": 2, "ui": 3}


def _modules():
    out = {}
    for pkg in PACKAGES:
        for f in (ROOT / pkg).rglob("*.py"):
            name = ".".join(f.relative_to(ROOT).with_suffix("").parts)
            out[name.removesuffix(".__init__")] = f
    return out


def _imports(name, path, known):
    """The project modules ``name`` imports, function-local imports included."""
    is_pkg = path.name == "__init__.py"
    base = name.split(".") if is_pkg else name.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            parts = base[:len(base) - node.level + 1] if node.level else []
            mod = ".".join(parts + ([node.module] if node.module else []))
            for alias in node.names:             # "from pkg import module"
                found.add(f"{mod}.{alias.name}" if f"{mod}.{alias.name}" in known else mod)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return {m for m in found if m in known and m != name}


def test_each_layer_imports_only_the_layers_below_it():
    mods = _modules()
    wrong = []
    for name, path in mods.items():
        for dep in _imports(name, path, mods):
            if name.startswith("hdl") and dep.startswith("firmware_py") and \
                    not dep.startswith("firmware_py.contract"):
                wrong.append((name, dep))
            me, it = name.split("."), dep.split(".")
            if me[0] == it[0] == "firmware_py" and len(me) > 1 and len(it) > 1 and \
                    me[1] in RANK and it[1] in RANK and RANK[it[1]] > RANK[me[1]]:
                wrong.append((name, dep))
    assert not wrong, wrong


def test_no_import_cycles():
    mods = _modules()
    graph = {n: _imports(n, p, mods) for n, p in mods.items()}
    index, low, stack, on, cycles = {}, {}, [], set(), []

    def visit(v):                   # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
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
                cycles.append(sorted(comp))

    for v in graph:
        if v not in index:
            visit(v)
    assert not cycles, cycles
