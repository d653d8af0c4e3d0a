"""Render the alerting rules (alerts/*.alerts.yml) from the bundle configuration (axonize/bundle.yml) and the jinja2 templates.

``python -m axonize.alerts.render`` writes them next to the templates' package
(the repository's alerts/ folder; ``make generate``); ``--check`` writes nothing
and exits 1 naming every file that differs from a fresh render; ``--config FILE``
renders another configuration; ``--out DIR`` writes elsewhere. A bad configuration
or a template that does not render exits 2 with the file, line and key, and writes nothing.

Templates are alerts/templates/<group>.alerts.yml.j2; each renders to <group>.alerts.yml
and has its runbook text in alerts/runbooks/<group>.yml (:mod:`axonize.alerts.runbooks`).
They see the ``alerts:`` section and these helpers (the PromQL ones from :mod:`axonize.promql`,
shared with the recording rules):

* ``a``: the alerts' settings by name (``a.AxonizeGpuLost.severity``, ``a.AxonizeGpuLost.for_``);
* ``m(metric, job, *matchers)``: a registered metric with the job's matchers from ``selectors:``;
* ``r(name, window="")``: a registered recorded name;
* ``up(job)``: the job's ``up`` series (``up{job="axonize-exporter"}``);
* ``num(x)``, ``by(labels)``, ``seconds(duration)``, ``alternatives(values)`` (``46|48|62``),
  ``le_alternatives(bound)`` (``1|1\\.0``: both ``le`` spellings of a bucket bound);
* ``runbook_url(alert)``: ``runbook_base_url#<anchor>``, the alert's section in docs/runbooks.md;
* ``gpu_keep`` (job, instance, the host and fleet labels, gpu, uuid: what every GPU alert carries,
  so Alertmanager can group and inhibit by GPU), ``target_keep`` (job, instance, host and fleet
  labels), ``inference_keep`` (``target_keep``, server, model), ``container_labels``.

A rendered file is checked: it parses as YAML, uses no unregistered ``axonize_*`` or recorded name,
and every alert has a ``severity`` of critical, warning or info and ``summary`` (one sentence
ending in a period), ``description`` and ``runbook_url`` annotations.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

import jinja2
import yaml

from axonize import bundle, names, rendered_files
from axonize.config import ConfigError
from axonize.promql import by, num, seconds, selector

#: The folder the rendered files go to (the package folder: alerts/ in the repository).
ALERTS_DIR = Path(__file__).resolve().parent
TEMPLATES_DIR = ALERTS_DIR / "templates"
SUFFIX = ".alerts.yml"
REQUIRED_ANNOTATIONS = ("summary", "description", "runbook_url")
#: Labels of axonize_gpu_container_* series that name the container (the family's labels after gpu, uuid).
CONTAINER_LABELS = tuple(label for label in names.get("axonize_gpu_container_numa_mismatch").labels if label not in ("gpu", "uuid"))


class RenderError(ValueError):
    """A template that does not render, or renders alerts that break the bundle's conventions."""


def anchor(alert: str) -> str:
    """The section anchor of an alert in docs/runbooks.md (a heading ``## AxonizeGpuLost`` -> ``axonizegpulost``)."""
    return alert.lower()


def le_alternatives(bound) -> str:
    """A bucket bound as every ``le`` spelling: ``1`` -> ``1|1.0`` (Prometheus 2 keeps a client's ``1``; Python
    clients and Prometheus 3 write ``1.0``), ``0.25`` -> ``0.25``; dots escaped for a regular expression."""
    text = num(bound)
    spellings = [text, f"{text}.0"] if "." not in text else [text]
    return "|".join(s.replace(".", "\\\\.") for s in spellings)


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )


def template_names() -> list[str]:
    """The alert templates, sorted: ``["bundle-health.alerts.yml.j2", ...]``."""
    return sorted(p.name for p in TEMPLATES_DIR.glob(f"*{SUFFIX}.j2"))


def _unique(labels: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(labels))


def context(cfg: bundle.Bundle) -> dict:
    """What the templates see: the alerts' settings, the label sets and the helpers above."""
    if cfg.alerts is None:
        raise ConfigError(f"{cfg.where}: alerts: missing")
    selectors = {"exporter": cfg.selectors.exporter, "sidecar": cfg.selectors.sidecar, "dcgm": cfg.selectors.dcgm}

    def up(job: str) -> str:
        return f"up{{{selectors[job]}}}" if selectors[job] else "up"

    def runbook_url(alert: str) -> str:
        return f"{cfg.alerts.runbook_base_url}#{anchor(alert)}"

    def grade_floor_above(letter: str):
        """The lowest score of the grade just above ``letter``: a score below it has ``letter`` or worse."""
        letters = [g for g, _ in cfg.grades]
        return dict(cfg.grades)[letters[letters.index(letter) - 1]]

    target_keep = _unique(["job", "instance", *cfg.fleet_labels, *cfg.host_labels])
    return {
        "a": cfg.alerts.rules,
        "m": selector(selectors),
        "r": names.recorded_name,
        "up": up,
        "num": num,
        "by": by,
        "seconds": lambda d: num(seconds(d)),
        "alternatives": lambda values: "|".join(str(v) for v in values),
        "le_alternatives": le_alternatives,
        "runbook_url": runbook_url,
        "grade_floor_above": grade_floor_above,
        "severities": bundle.SEVERITIES,
        "target_keep": target_keep,
        "gpu_keep": _unique([*target_keep, "gpu", "uuid"]),
        "inference_keep": _unique([*target_keep, "server", "model"]),
        "container_labels": CONTAINER_LABELS,
        "xid_never_alert": cfg.alerts.xid_never_alert,
    }


def _check(name: str, text: str) -> None:
    """Raise :class:`RenderError` when the rendered ``text`` of template ``name`` breaks a convention."""
    where = f"alerts/templates/{name}"
    unknown = names.unknown_names(text)
    if unknown:
        raise RenderError(f"{where} uses names not in the names registry (axonize/names): {', '.join(unknown)}")
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RenderError(f"{where} renders invalid YAML: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("groups"), list):
        raise RenderError(f"{where} renders no `groups:` list")
    for group in doc["groups"]:
        for rule in group.get("rules") or []:
            alert = rule.get("alert", "?")
            severity = rule.get("labels", {}).get("severity")
            if severity not in bundle.SEVERITIES:
                raise RenderError(f"{where}: {alert}: severity {severity!r} is not one of {', '.join(bundle.SEVERITIES)}")
            notes = rule.get("annotations", {})
            missing = [key for key in REQUIRED_ANNOTATIONS if not notes.get(key)]
            if missing:
                raise RenderError(f"{where}: {alert}: annotations missing: {', '.join(missing)}")
            summary = notes["summary"].strip()
            if not summary.endswith(".") or ". " in summary:
                raise RenderError(f"{where}: {alert}: summary must be one sentence ending in a period, got {summary!r}")


def render(cfg: bundle.Bundle | None = None) -> dict[str, str]:
    """``{"gpu-health.alerts.yml": text, ...}``: every template rendered from ``cfg`` (default: the packaged config).

    Raises :class:`RenderError` for a template that does not render or renders a broken alert.
    """
    cfg = cfg or bundle.load()
    env = _environment()
    env.filters["num"] = num
    ctx = context(cfg)
    out = {}
    for name in template_names():
        ctx["header"] = (
            f"# Generated by `python -m axonize.alerts.render` (make generate) from {rendered_files.source_name(cfg)}\n"
            f"# and alerts/templates/{name}; do not edit by hand. Runbooks: docs/runbooks.md."
        )
        try:
            text = env.get_template(name).render(ctx)
        except jinja2.TemplateError as exc:
            line = getattr(exc, "lineno", None)
            raise RenderError(f"alerts/templates/{name}{f':{line}' if line else ''}: {exc}") from None
        _check(name, text)
        out[name[: -len(".j2")]] = text
    return out


def alerts_of(rendered: dict[str, str]) -> list[dict]:
    """Every alerting rule of the rendered files, in file order, each with its ``file`` added."""
    out = []
    for name, text in rendered.items():
        for group in yaml.safe_load(text)["groups"]:
            out += [{**rule, "file": name, "group": group["name"]} for rule in group["rules"] if "alert" in rule]
    return out


def stale(out_dir: Path, rendered: dict[str, str]) -> list[str]:
    """Files in ``out_dir`` that differ from ``rendered``, are missing, or are *.alerts.yml no template makes."""
    return rendered_files.stale(out_dir, rendered, SUFFIX, "alerts/templates")


def main(argv: Sequence[str] | None = None) -> int:
    return rendered_files.main(
        argv,
        module="axonize.alerts.render",
        description=__doc__.split("\n\n")[0],
        render=render,
        default_dir=ALERTS_DIR,
        suffix=SUFFIX,
        what="alerts",
    )


if __name__ == "__main__":
    sys.exit(main())
