"""The tail every renderer of committed files shares (rules/, alerts/): name the source, find stale files, write or check.

A renderer turns the bundle configuration into ``{file name: text}``; this module compares that with a
folder (:func:`stale`) and gives both renderers one command line (:func:`main`: ``--config``, ``--out``,
``--check``), so ``python -m axonize.rules.render`` and ``python -m axonize.alerts.render`` behave alike.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from axonize import bundle
from axonize.config import ConfigError


def source_name(cfg: bundle.Bundle) -> str:
    """The configuration a generated header names: ``axonize/bundle.yml`` for the packaged bundle, else the file given."""
    return "axonize/bundle.yml" if cfg.where == bundle.PACKAGED else cfg.where


def stale(out_dir: Path, rendered: dict[str, str], suffix: str, templates: str) -> list[str]:
    """Files in ``out_dir`` that differ from ``rendered``, are missing, or end in ``suffix`` and no template makes.

    One line each: ``name: missing``, ``name: differs from a fresh render``,
    ``name: no template renders it (<templates>/<name>.j2)``.
    """
    problems = []
    for name, text in rendered.items():
        path = out_dir / name
        if not path.exists():
            problems.append(f"{name}: missing")
        elif path.read_text(encoding="utf-8") != text:
            problems.append(f"{name}: differs from a fresh render")
    for path in sorted(out_dir.glob(f"*{suffix}")):
        if path.name not in rendered:
            problems.append(f"{path.name}: no template renders it ({templates}/{path.name}.j2)")
    return problems


def check_or_write(out_dir: Path, rendered: dict[str, str], problems: list[str] | None, what: str) -> int:
    """With ``problems`` (``--check``): print them to stderr and return 1 if any, else 0. Without: write the files, return 0."""
    if problems is not None:
        for problem in problems:
            print(f"{out_dir / problem}", file=sys.stderr)
        if problems:
            print(f"stale {what}: run `make generate` and commit them", file=sys.stderr)
        return 1 if problems else 0
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, text in rendered.items():
        (out_dir / name).write_text(text, encoding="utf-8")
    return 0


def main(
    argv: Sequence[str] | None,
    *,
    module: str,
    description: str,
    render: Callable[[bundle.Bundle], dict[str, str]],
    default_dir: Path,
    suffix: str,
    what: str,
) -> int:
    """The command line of ``python -m <module>``: render from ``--config`` (default: the packaged bundle) into
    ``--out`` (default ``default_dir``), or with ``--check`` write nothing and exit 1 naming every stale file.

    A bad configuration or a render that fails (ConfigError, or the renderer's ValueError naming the template)
    exits 2 with the message and writes nothing.
    """
    parser = argparse.ArgumentParser(prog=f"python -m {module}", description=description)
    parser.add_argument("--config", metavar="FILE", help="bundle configuration (default: the packaged axonize/bundle.yml)")
    parser.add_argument("--out", metavar="DIR", help=f"where to write the *{suffix} files (default: the package folder)")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 when a file differs from a fresh render")
    args = parser.parse_args(argv)
    try:
        rendered = render(bundle.load(args.config))
    except (ConfigError, ValueError) as exc:
        print(f"{module}: {exc}", file=sys.stderr)
        return 2
    out_dir = Path(args.out) if args.out else default_dir
    templates = f"{default_dir.name}/templates"
    return check_or_write(out_dir, rendered, stale(out_dir, rendered, suffix, templates) if args.check else None, what)
