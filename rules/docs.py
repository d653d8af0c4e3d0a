"""The recording rules' part of docs/metrics.md (``make generate`` appends it after the exporter and sidecar parts).

``python -m axonize.rules.docs`` prints it: the definitions and deviations
(rules/templates/metrics-rules.md.j2, rendered from the same configuration as
the rules) and, per rules file, every recorded name with its formula in words:
the comment the template writes above the rule. A test fails when the committed
docs/metrics.md differs from what this prints.
"""

from __future__ import annotations

import sys

import yaml

from axonize import bundle

from . import render as rules_render

NOTES_TEMPLATE = "metrics-rules.md.j2"


def rule_comments(text: str) -> dict[str, str]:
    """``{recorded name: the comment above its first rule, joined into one line}`` from a rendered rules file."""
    lines = text.splitlines()
    out: dict[str, str] = {}
    for i, line in enumerate(lines):
        stripped = line.strip()
        if not stripped.startswith("- record:"):
            continue
        name = stripped.split(":", 1)[1].strip()
        comment = []
        j = i - 1
        while j >= 0 and lines[j].strip().startswith("#"):
            comment.insert(0, lines[j].strip().lstrip("#").strip())
            j -= 1
        if name not in out or not out[name]:
            out[name] = " ".join(comment)
    return out


def rules_of(text: str) -> list[tuple[str, dict]]:
    """``[(recorded name, its labels), ...]`` in file order from a rendered rules file."""
    doc = yaml.safe_load(text)
    return [(r["record"], r.get("labels") or {}) for g in doc["groups"] for r in g["rules"] if "record" in r]


def render(cfg: bundle.Bundle | None = None) -> str:
    """The markdown section, starting with a blank line and ``## Recording rules``."""
    cfg = cfg or bundle.load()
    env = rules_render._environment()
    env.filters["num"] = rules_render.num
    env.filters["code"] = lambda s: f"`{s}`"
    ctx = rules_render.context(cfg)
    ctx["selectors"] = cfg.selectors
    out = [env.get_template(NOTES_TEMPLATE).render(ctx).rstrip("\n")]
    for name, text in rules_render.render(cfg).items():
        comments = rule_comments(text)
        out += ["", f"### `rules/{name}`", "", "| Rule | Meaning (formula) |", "|---|---|"]
        seen: dict[str, list[str]] = {}
        for record, labels in rules_of(text):
            seen.setdefault(record, []).extend(f"{k}={v}" for k, v in labels.items())
        for record, labels in seen.items():
            shown = f"`{record}`" + (f" ({', '.join(labels)})" if labels else "")
            out.append(f"| {shown} | {comments[record].replace('|', chr(92) + '|')} |")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())
