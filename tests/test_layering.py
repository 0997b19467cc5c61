"""The package's imports flow one way, and none of them goes round in a circle.

Every import in every module is read from the source (AST), at module level and inside functions
alike: a function-level import that closes a cycle is a cycle all the same. Layers, lowest first;
a module may import its own layer and the ones below it, never one above:


  foundation   errors, limits, plugins (backend names), selection (what --only and --shard say),
               _files (a file's signature and digest, credential names), _version, _resources, _lru,
               _ratelimit, _sandbox
  imaging      pure image operations (numpy, Pillow): nothing of ours but the foundation
  catalog      YAML with positions, the schema, checks: knows nothing of backends or builds
  matrix, prompts, jobs
  storage      engine.cache: the content-addressed store and atomic writes, which a backend that
               keeps artefacts of its own (openai's background plates) writes through
  backends     base, local, openai/ (backends never reach into each other's private members)
  engine       cache, plan, runner, manifest, outputs
  review       contact sheets, gallery
  pipeline     engine.pipeline: prepare and build, which end by writing the review pages
  stores       import from and export to Shopify, WooCommerce, Merchant Center
  starter      `mockups init`
  cli, mockups (the public API)
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "mockups"

LAYERS = [
    ("foundation", ["mockups.errors", "mockups.limits", "mockups.plugins", "mockups.selection", "mockups._files",
                    "mockups._version", "mockups._resources", "mockups._lru", "mockups._ratelimit",
                    "mockups._sandbox"]),
    ("imaging", ["mockups.imaging"]),
    ("catalog", ["mockups.catalog"]),
    ("matrix", ["mockups.matrix"]),
    ("prompts", ["mockups.prompts"]),
    ("jobs", ["mockups.jobs"]),
    ("storage", ["mockups.engine.cache"]),
    ("backends", ["mockups.backends"]),
    ("engine", ["mockups.engine"]),
    ("review", ["mockups.review"]),
    ("pipeline", ["mockups.engine.pipeline"]),
    ("stores", ["mockups.stores"]),
    ("starter", ["mockups.starter"]),
    ("cli", ["mockups.cli", "mockups.__main__", "mockups"]),
]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def layer_of(module: str) -> int:
    """The index of the most specific layer prefix that names this module."""
    best, best_len = None, -1
    for i, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best_len:
                best, best_len = i, len(prefix)
    assert best is not None, f"{module} is in no layer: add it to LAYERS"
    return best


def imports_of(module: str) -> set[str]:
    """Our modules that `module` imports anywhere in its source."""
    path = MODULES[module]
    tree = ast.parse(path.read_text(), str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[: len(parts) - (node.level - 1)]
                base = ".".join(parts + ([base] if base else []))
            names = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]
        else:
            continue
        for name in names:
            while name and name not in MODULES:  # `import mockups.x.y` names a module or a package
                name = name.rpartition(".")[0]
            if name and name != module:
                found.add(name)
    return found


GRAPH = {m: imports_of(m) for m in MODULES}


def test_every_module_is_in_a_layer():
    for module in MODULES:
        layer_of(module)


def test_no_import_goes_against_the_layers():
    wrong = sorted(f"{m} ({LAYERS[layer_of(m)][0]}) imports {t} ({LAYERS[layer_of(t)][0]})"
                   for m, targets in GRAPH.items() for t in targets if layer_of(t) > layer_of(m))
    assert not wrong, "\n".join(wrong)


def test_imaging_depends_on_nothing_of_ours_but_the_foundation():
    wrong = sorted(f"{m} imports {t}" for m, targets in GRAPH.items() if layer_of(m) == 1
                   for t in targets if layer_of(t) not in (0, 1))
    assert not wrong, "\n".join(wrong)


def test_backends_do_not_import_each_others_private_modules():
    wrong = []
    for m, targets in GRAPH.items():
        if not m.startswith("mockups.backends."):
            continue
        own = m.split(".")[2]
        for t in targets:
            if t.startswith("mockups.backends.") and t.split(".")[2] != own and any(
                    part.startswith("_") for part in t.split(".")[2:]):
                wrong.append(f"{m} imports {t}")
    assert not wrong, "\n".join(wrong)


def test_only_the_openai_backend_imports_the_sdk():
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text())
        sdk = any(isinstance(n, ast.Import) and any(a.name.split(".")[0] == "openai" for a in n.names)
                  or isinstance(n, ast.ImportFrom) and n.level == 0 and (n.module or "").split(".")[0] == "openai"
                  for n in ast.walk(tree))
        assert not sdk or module.startswith("mockups.backends.openai"), module


def test_no_import_cycles():
    """Depth-first search over every import edge, function-level ones included."""
    state: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for t in sorted(GRAPH[m]):
            if state.get(t) == 1:
                cycles.append(" -> ".join(stack[stack.index(t):] + [t]))
            elif t not in state:
                visit(t)
        stack.pop()
        state[m] = 2

    for m in sorted(GRAPH):
        if m not in state:
            visit(m)
    assert not cycles, "\n".join(cycles)


def test_the_checker_sees_a_cycle_and_a_wrong_arrow():
    """The checks above can fail: a made-up graph with a cycle and an upward import is caught."""
    saved = dict(GRAPH)
    try:
        GRAPH["mockups.errors"] = {"mockups.engine.cache"}
        try:
            test_no_import_goes_against_the_layers()
        except AssertionError as e:
            assert "mockups.errors (foundation) imports mockups.engine.cache (storage)" in str(e)
        else:
            raise AssertionError("an upward import was not reported")
        GRAPH["mockups.engine.cache"] = GRAPH["mockups.engine.cache"] | {"mockups.errors"}
        try:
            test_no_import_cycles()
        except AssertionError as e:
            assert "mockups.errors -> mockups.engine.cache" in str(e)
        else:
            raise AssertionError("a cycle was not reported")
    finally:
        GRAPH.clear()
        GRAPH.update(saved)
