"""Import rules of the hexagon, checked on the source with ast."""

from __future__ import annotations

import ast
from pathlib import Path

import gambiarra

PACKAGE = Path(gambiarra.__file__).parent
IO_LIBRARIES = {"httpx", "websockets", "anyio", "structlog", "dependency_injector", "asyncio"}


def imports(path: Path, top_level_only: bool = False) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in tree.body if top_level_only else ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def test_domain_imports_no_io_and_no_adapter() -> None:
    for path in (PACKAGE / "domain").rglob("*.py"):
        for name in imports(path):
            root = name.split(".")[0]
            assert root not in IO_LIBRARIES, f"{path.name} imports {name}"
            assert not name.startswith("gambiarra.") or name.startswith(
                ("gambiarra.domain", "gambiarra.errors")
            ), f"{path.name} imports {name}"


def test_domain_reads_no_clock() -> None:
    for path in (PACKAGE / "domain").rglob("*.py"):
        assert not {"time", "datetime"} & imports(path), path.name


def test_only_the_container_imports_dependency_injector() -> None:
    users = {
        path.name
        for path in PACKAGE.rglob("*.py")
        if any(n.startswith("dependency_injector") for n in imports(path))
    }
    assert users == {"containers.py"}


def test_adapters_never_import_the_service() -> None:
    for path in (PACKAGE / "adapters").rglob("*.py"):
        assert not {"gambiarra.service", "gambiarra.containers"} & imports(path), path.name


def test_help_path_stays_light() -> None:
    """cli imports nothing heavy at module level, so --help is fast."""
    top = imports(PACKAGE / "cli.py", top_level_only=True)
    assert not top & (IO_LIBRARIES | {"gambiarra.app", "gambiarra.containers"})
    assert imports(PACKAGE / "config.py", top_level_only=True) <= {
        "sys",
        "pathlib",
        "__future__",
        "collections.abc",
        "dataclasses",
        "typing",
        "gambiarra.errors",
    }


def test_the_public_events_are_data_only() -> None:
    """Events say what happened: no I/O library, no adapter, no formatting module."""
    for name in imports(PACKAGE / "events.py"):
        assert name.split(".")[0] not in IO_LIBRARIES, name
        assert name in {"__future__", "typing", "msgspec"} or name.startswith(
            ("gambiarra.domain", "gambiarra.ports")
        ), name


def test_the_plugin_adapter_never_reaches_into_the_core() -> None:
    assert not {"gambiarra.service", "gambiarra.session", "gambiarra.containers"} & imports(
        PACKAGE / "adapters" / "plugins.py"
    )


def test_the_commands_module_stays_light_too() -> None:
    """``--help`` imports it: the table and the errors, nothing heavier."""
    assert imports(PACKAGE / "commands.py", top_level_only=True) <= {
        "__future__",
        "collections.abc",
        "dataclasses",
        "pathlib",
        "typing",
        "gambiarra.config",
        "gambiarra.errors",
    }
