"""Check the package's import structure against superstrax/_layers.py.

    python tools/check_architecture.py       # prints problems, exit status 1 if any

Rules: every module is in the layer map; no import (also inside functions) goes from a lower
layer to a higher one; imports form no cycle; no module but context.py touches a private
member of the Context (the engine is handed a Session instead).
"""
import ast
import os
import sys

PACKAGE = "superstrax"
ROOT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), PACKAGE)


def package_modules(root=ROOT):
    """{module name relative to the package: path}; packages are named by their folder,
    their __init__ by 'pkg' (the package's own __init__ is '__init__')."""
    modules = {}
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        rel = os.path.relpath(folder, root).replace(os.sep, ".")
        for f in files:
            if not f.endswith(".py"):
                continue
            stem = f[:-3]
            if rel == ".":
                name = stem
            elif stem == "__init__":
                name = rel
            else:
                name = f"{rel}.{stem}"
            modules[name] = os.path.join(folder, f)
    return modules


def _package_of(module, path):
    if path.endswith("__init__.py"):
        return "" if module == "__init__" else module
    return module.rpartition(".")[0]


def imports_of(module, path, modules):
    """Modules of the package that `module` imports anywhere in its source."""
    tree = ast.parse(open(path).read(), path)
    package = _package_of(module, path)
    found = set()

    def resolve(name):
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == PACKAGE:
                    found.add("__init__")
                elif alias.name.startswith(PACKAGE + "."):
                    found.add(resolve(alias.name[len(PACKAGE) + 1:]))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".") if package else []
                base = parts[:len(parts) - (node.level - 1)] if node.level > 1 else parts
                if node.level - 1 > len(parts):
                    continue
                base = ".".join(base)
            elif node.module == PACKAGE or (node.module or "").startswith(PACKAGE + "."):
                base = ""
                node_module = node.module[len(PACKAGE) + 1:] if node.module != PACKAGE else ""
                target = node_module
                for alias in node.names:
                    sub = f"{target}.{alias.name}" if target else alias.name
                    found.add(sub if sub in modules else resolve(target) or "__init__")
                continue
            else:
                continue
            target = ".".join(p for p in (base, node.module or "") if p)
            for alias in node.names:
                sub = f"{target}.{alias.name}" if target else alias.name
                if sub in modules:
                    found.add(sub)
                else:
                    found.add(resolve(target) if target else "__init__")
    found.discard(None)
    found.discard(module)
    return found


def import_graph(modules):
    return {m: imports_of(m, p, modules) for m, p in modules.items()}


def find_cycles(graph):
    """Strongly connected groups of more than one module (Tarjan), each sorted."""
    index, low, stack, on_stack, cycles = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                cycles.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return cycles


def upward_imports(graph, layer_of):
    """(importer, imported, importer's layer, imported's layer) of imports that go up."""
    found = []
    for m, targets in sorted(graph.items()):
        for t in sorted(targets):
            lm, lt = layer_of(m), layer_of(t)
            if lm is not None and lt is not None and lt[0] > lm[0]:
                found.append((m, t, lm[1], lt[1]))
    return found


def unmapped_modules(graph, layer_of):
    return sorted(m for m in graph if layer_of(m) is None)


def private_context_uses(modules, private_names, exempt=("context",)):
    """(module, line, name) where a module other than context.py touches a private member of
    the Context on anything but `self`."""
    found = []
    for m, path in sorted(modules.items()):
        if m in exempt:
            continue
        for node in ast.walk(ast.parse(open(path).read(), path)):
            if isinstance(node, ast.Attribute) and node.attr in private_names and not (
                    isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")):
                found.append((m, node.lineno, node.attr))
    return found


def _private(name):
    return name.startswith("_") and not name.startswith("__")


def assigned_private_attributes(path):
    """Private names a module assigns on `self` (`self._session = ...`): instance attributes,
    which the class's own namespace does not show."""
    names = set()
    for node in ast.walk(ast.parse(open(path).read(), path)):
        targets = node.targets if isinstance(node, ast.Assign) else (
            [node.target] if isinstance(node, (ast.AnnAssign, ast.AugAssign)) else [])
        for t in targets:
            if (isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name)
                    and t.value.id == "self" and _private(t.attr)):
                names.add(t.attr)
    return names


def context_private_names():
    sys.path.insert(0, os.path.dirname(ROOT))
    from superstrax.context import Context
    return ({n for n in vars(Context) if _private(n)}
            | assigned_private_attributes(os.path.join(ROOT, "context.py")))


def problems():
    sys.path.insert(0, os.path.dirname(ROOT))
    from superstrax._layers import layer_of
    modules = package_modules()
    graph = import_graph(modules)
    out = [f"{m} is not in superstrax/_layers.py's LAYERS: add it to its layer"
           for m in unmapped_modules(graph, layer_of)]
    out += [f"import cycle: {' <-> '.join(c)}" for c in find_cycles(graph)]
    out += [f"upward import: {m} ({lm}) imports {t} ({lt})"
            for m, t, lm, lt in upward_imports(graph, layer_of)]
    out += [f"{m}:{line} touches the Context's private {name}; use the Session"
            for m, line, name in private_context_uses(modules, context_private_names())]
    return out


if __name__ == "__main__":
    found = problems()
    for p in found:
        print(p)
    sys.exit(1 if found else 0)
