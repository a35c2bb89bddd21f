"""The package's floors hold: no import cycles, no import from a lower floor up, a short top level.

Read from the source (every import, also those inside functions and ``TYPE_CHECKING`` blocks), not
from what happens to be loaded, so a lazy import that points upwards fails here too. The floors
and what each is for are drawn in docs/architecture.md.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "scr" / "landmark_emotion"

FLOORS: list[tuple[str, ...]] = [
    ("api", "cli"),  # the public API and the commands' plumbing: nothing in the package imports them
    ("apps",),  # the demo, recording, the web page
    ("reading", "training"),  # per-frame reading; making models (neither imports the other)
    ("model",),  # preprocessing, engine, references, bundle, the model object
    ("data",),  # labelled images, extraction, the landmark table
    ("face",),  # landmarks, alignment, appearance, the feature vector
    ("frames", "labels", "outputs", "resources", "signals"),  # the ground floor
    ("inputs",),  # reading the files a command is handed, safely: below the ground floor, which reads them too
    ("errors",),
]
"""Top floor first. A module may import from its own room (the subpackage or ground module it belongs to) and
from any room on a lower floor; rooms on one floor are independent of each other."""

MAX_TOP_LEVEL_MODULES = 12


def room(module: str) -> str:
    """``landmark_emotion.model.bundle`` -> ``model``; ``landmark_emotion.errors`` -> ``errors``."""
    return module.split(".")[1]


def floor(module: str) -> int:
    name = room(module)
    for level, rooms in enumerate(FLOORS):
        if name in rooms:
            return level
    raise AssertionError(f"{module} is in no floor: add its room {name!r} to FLOORS (and docs/architecture.md)")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The package's modules that ``name`` imports, wherever in the file the import stands."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}".rstrip(".")
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target.startswith("landmark_emotion.") and target != name:
                found.add(target)
    return found


def graph() -> dict[str, set[str]]:
    found = modules()
    known = set(found)
    return {name: imports(name, path, known) for name, path in found.items() if name != "landmark_emotion"}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in edges.get(node, ()):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycles():
    assert cycles(graph()) == []


def test_no_import_from_a_lower_floor_up_or_across_a_floor():
    wrong = []
    for name, targets in sorted(graph().items()):
        for target in sorted(targets):
            same_room = room(name) == room(target)
            if not same_room and floor(target) <= floor(name):
                wrong.append(f"{name} -> {target}")
    assert wrong == []


def test_the_check_sees_a_cycle_and_an_upward_import():
    """The two checks above can fail: they see what they are meant to see."""
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert floor("landmark_emotion.face.features") > floor("landmark_emotion.model.bundle")
    edges = graph()
    assert "landmark_emotion.face.features" in edges["landmark_emotion.model.inference"]  # a lazy import is seen
    assert "landmark_emotion.model.evaluation" in edges["landmark_emotion.training.base"]


def test_a_short_top_level():
    top = [path.name for path in PACKAGE.glob("*.py")]
    assert len(top) <= MAX_TOP_LEVEL_MODULES, sorted(top)
