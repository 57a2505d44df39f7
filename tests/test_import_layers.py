"""Imports run one way (docs/architecture.md, "Where things live"): from the blueprints
down to the domains, and on down to the models, the vocabulary and common/. Read from the
source (every import statement of every module of app/, at any depth), not from what
happens to be loaded."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

APP = Path(__file__).resolve().parent.parent / "app"

BLUEPRINTS = {"app.public", "app.patient", "app.auth", "app.intake", "app.admin"}
DOMAINS = {"app.requests", "app.records", "app.accounts", "app.audit", "app.mail", "app.fhir"}
# Flask's side of the app: what only the blueprints and the factory may use.
SERVING = {"app.serving", "app.templating", "app.transactions", "app.error_pages"}
SHARED = {"app.models", "app.vocabulary", "app.common"}
# Running it: the factory, the database session, health, logs and gunicorn's workers.
RUNNING = {"app", "app.factory", "app.db", "app.db_timeouts", "app.ops"}


def unit(module: str) -> str:
    """The package (app.requests) or top-level module (app.models) a module belongs to."""
    parts = module.split(".")
    return ".".join(parts[:2]) if len(parts) > 1 else module


def module_name(path: Path) -> str:
    relative = path.relative_to(APP.parent).with_suffix("")
    parts = relative.parts[:-1] if relative.name == "__init__" else relative.parts
    return ".".join(parts)


def imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            # "from app import serving" names the package app.serving.
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return {n for n in names if n.startswith("app.")}


def package_graph() -> dict[str, set[str]]:
    units = {unit(module_name(p)) for p in APP.rglob("*.py")}
    graph: dict[str, set[str]] = defaultdict(set)
    for path in APP.rglob("*.py"):
        source = unit(module_name(path))
        for name in imported(path):
            # The longest unit the name is in (app.serving.x is app.serving).
            target = unit(name)
            if target in units and target != source:
                graph[source].add(target)
    return graph


def cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle between packages, if there is any."""
    state: dict[str, str] = {}

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = "open"
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return path[path.index(nxt) :] + [nxt] if nxt in path else [node, nxt]
            if nxt not in state and (found := visit(nxt, [*path, nxt])):
                return found
        state[node] = "done"
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start, [start])):
            return found
    return None


def test_every_package_has_its_place_in_the_layers():
    """A new package (or top-level module) fails here until someone says which layer it
    is in: the rules below hold only for what is named."""
    units = {unit(module_name(p)) for p in APP.rglob("*.py")}
    assert units - (BLUEPRINTS | DOMAINS | SERVING | SHARED | RUNNING) == set()


def test_no_package_imports_another_that_imports_it_back():
    assert cycle(package_graph()) is None, " -> ".join(cycle(package_graph()) or [])


def test_domains_and_shared_code_never_import_the_pages_or_their_serving():
    graph = package_graph()
    upwards = {
        (source, target)
        for source in DOMAINS | SHARED
        for target in graph.get(source, ())
        if target in BLUEPRINTS | SERVING
    }
    assert upwards == set()


def test_shared_code_imports_no_domain():
    graph = package_graph()
    assert {(s, t) for s in SHARED for t in graph.get(s, ()) if t in DOMAINS} == set()


def test_the_check_finds_a_cycle_when_there_is_one():
    assert cycle({"app.requests": {"app.mail"}, "app.mail": {"app.requests"}}) in (
        ["app.requests", "app.mail", "app.requests"],
        ["app.mail", "app.requests", "app.mail"],
    )
    assert cycle({"app.mail": {"app.requests"}, "app.requests": {"app.models"}}) is None
