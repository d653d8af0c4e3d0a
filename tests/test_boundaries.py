"""Components share code only through the core package: no component imports another.

The components are the design card's folders (exporter/, sidecar/, rules/; later alerts/, grafana/,
gateway/), installed as ``axonize.<component>``. Each may import the core (``axonize`` and its
modules) and itself. The core imports no component, except ``axonize.generate``, the build tool that
drives every component's renderer (``make generate``). Test tooling (devtools/) is imported by nothing
that ships.
"""

from __future__ import annotations

import ast
import configparser
from pathlib import Path

import pytest

from tests.conftest import ROOT


def _components() -> dict[str, str]:
    """``{component: its folder}`` from setup.cfg's package_dir (``axonize.exporter = exporter``)."""
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    out = {}
    for line in cfg["options"]["package_dir"].strip().splitlines():
        package, folder = (part.strip() for part in line.split("="))
        if package.count(".") == 1:
            out[package.split(".")[1]] = folder
    return out


COMPONENTS = _components()
CORE_EXCEPTIONS = {"axonize/generate.py"}


def _imports(path: Path, package: str) -> list[tuple[int, str]]:
    """``(line, absolute module)`` for every import in the file; relative imports resolved against ``package``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
                if not node.module:
                    out += [(node.lineno, f"{module}.{alias.name}") for alias in node.names]
                    continue
            else:
                module = node.module or ""
            out.append((node.lineno, module))
    return out


def _package_of(path: Path, root_package: str, folder: Path) -> str:
    rel = path.relative_to(folder).with_suffix("")
    parts = [root_package, *rel.parts]
    if parts[-1] == "__init__":
        parts.pop()
        return ".".join(parts)
    return ".".join(parts[:-1])


def _component_of(module: str) -> str | None:
    parts = module.split(".")
    if len(parts) >= 2 and parts[0] == "axonize" and parts[1] in COMPONENTS:
        return parts[1]
    return None


def test_components_are_found():
    assert {"exporter", "sidecar", "rules"} <= set(COMPONENTS)


@pytest.mark.parametrize("component", sorted(COMPONENTS))
def test_a_component_imports_only_the_core_and_itself(component):
    folder = ROOT / COMPONENTS[component]
    wrong = []
    for path in sorted(folder.rglob("*.py")):
        package = _package_of(path, f"axonize.{component}", folder)
        for line, module in _imports(path, package):
            other = _component_of(module)
            if (other is not None and other != component) or module.split(".")[0] in ("devtools", "tests"):
                wrong.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    assert not wrong, "\n".join(wrong)


def test_the_core_imports_no_component():
    folder = ROOT / "axonize"
    wrong = []
    for path in sorted(folder.rglob("*.py")):
        if path.relative_to(ROOT).as_posix() in CORE_EXCEPTIONS:
            continue
        for line, module in _imports(path, _package_of(path, "axonize", folder)):
            if _component_of(module) is not None or module.split(".")[0] == "tests":
                wrong.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    assert not wrong, "\n".join(wrong)


def test_the_checker_sees_a_cross_component_import(tmp_path):
    bad = tmp_path / "attribution.py"
    bad.write_text("from ..exporter.nvml import library\nimport axonize.rules.pricing\nfrom . import targets\n")
    modules = [m for _, m in _imports(bad, "axonize.sidecar")]
    assert modules == ["axonize.exporter.nvml", "axonize.rules.pricing", "axonize.sidecar.targets"]
    assert [_component_of(m) for m in modules] == ["exporter", "rules", "sidecar"]
