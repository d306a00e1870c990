"""Conventions kept true by reading the source: service functions take their dependencies (the
``services`` bundle) by keyword only (STYLE.md); the features serving pages that tolerate stale
reads run concurrent steps with ``together`` (``clipfeed.infra.db.replicas``)."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "clipfeed"
ROUTE_METHODS = {"get", "post", "put", "patch", "delete", "head", "api_route"}


def _is_route(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """FastAPI passes a route's parameters by name, whatever their kind."""
    for decorator in fn.decorator_list:
        call = decorator.func if isinstance(decorator, ast.Call) else decorator
        if isinstance(call, ast.Attribute) and call.attr in ROUTE_METHODS:
            return True
    return False


def _positional_services(root: Path = SRC) -> list[str]:
    found = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            positional = [a.arg for a in node.args.posonlyargs + node.args.args]
            # A class holding the services (a processor, a progress reporter) gets them once,
            # when built: its constructor is the one place they come first.
            if "services" in positional and node.name != "__init__" and not _is_route(node):
                found.append(f"{path.relative_to(root)}:{node.lineno} {node.name}")
    return found


def test_service_functions_take_the_services_by_keyword_only() -> None:
    assert _positional_services() == []


def test_the_check_finds_a_function_taking_the_services_positionally(tmp_path: Path) -> None:
    (tmp_path / "likes.py").write_text(
        "async def like(services, clip_id):\n    pass\n\n\n"
        "async def unlike(clip_id, *, services):\n    pass\n\n\n"
        "@router.post('/v1/clips/{clip_id}/like')\nasync def like_route(clip_id, services):\n    pass\n\n\n"
        "class Progress:\n    def __init__(self, services, clip_id):\n        pass\n\n"
        "    def stage(self, services, name):\n        pass\n")
    assert _positional_services(tmp_path) == ["likes.py:1 like", "likes.py:18 stage"]


# The features whose pages may be read from a replica (``StaleReadsOk``): a step run with a bare
# ``asyncio.gather`` is a task of its own, which reads the primary, so a block checked there
# fails the whole page while the primary does not answer (docs/operate/regions.md).
STALE_TOLERANT = ("accounts", "clips", "social", "search")


def _bare_gathers(root: Path = SRC, packages: tuple[str, ...] = STALE_TOLERANT) -> list[str]:
    found = []
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
                if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "gather"
                        and isinstance(node.func.value, ast.Name) and node.func.value.id == "asyncio"):
                    found.append(f"{path.relative_to(root)}:{node.lineno}")
    return found


def test_features_with_stale_tolerant_pages_run_concurrent_steps_with_together() -> None:
    assert _bare_gathers() == []


def test_the_check_finds_a_bare_gather(tmp_path: Path) -> None:
    (tmp_path / "social").mkdir()
    (tmp_path / "social" / "access.py").write_text(
        "async def visible(db):\n    return await asyncio.gather(clips(db), blocks(db))\n\n\n"
        "async def visible_too(db):\n    return await together(clips(db), blocks(db))\n")
    assert _bare_gathers(tmp_path, ("social",)) == ["social/access.py:2"]
