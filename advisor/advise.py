"""The advisor's pipeline: inputs -> :class:`~.model.Host` -> score, findings, plan, optional narrative -> Report.

One direction, each step one module::

    captures / saved /metrics (replay.py)  or  a Prometheus window (prometheus.py)
        -> samples -> Host (samples.py), the workloads file merged in (workloads.py)
        -> score (score.py), findings (findings/), placement plan (plan.py; its ``after`` recomputed there)
        -> narrative (narrative.py, only when an LLM endpoint is given; never required)
        -> Report, rendered by terminal.py, json_report.py, report/html.py and report/pdf.py

:func:`analyse` is everything after the inputs (what ``benchmarks/advisor_offline.py`` times with the input
step); :func:`advise` the whole. Bad input raises :class:`AdviseError` (a ValueError) whose message names the
file, key or URL; the CLI prints it and exits 2.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, replace

from axonize import bundle as bundle_module
from axonize.yaml_file import ConfigError

from . import replay, scenarios, workloads
from .findings import diagnose
from .model import Host, Report
from .plan import plan_placement
from .samples import SamplesError, host_of
from .score import score_host


class AdviseError(ValueError):
    """Input the advisor cannot use; the message names the file, key or URL."""


@dataclass(frozen=True)
class Request:
    """What to analyse (one of ``replay``, ``prometheus``, ``scenario``) and how.

    ``window``: a Prometheus range (``1h``); ``selector``: label matchers narrowing the exporter's series to
    one host; ``config``: the bundle configuration (weights, grades, prices; None: the packaged one);
    ``llm_timeout_s``: seconds; ``hostname``: the host's name in the report (``--hostname``), over the
    workloads file's ``host:``, the exporter's ``axonize_host_info``, Prometheus' ``instance`` and the
    capture's file name, in that order.
    """

    replay: tuple[str, ...] = ()
    prometheus: str | None = None
    scenario: str | None = None
    workloads: str | None = None
    window: str = "1h"
    selector: str = ""
    config: str | None = None
    llm_endpoint: str | None = None
    llm_model: str | None = None
    llm_timeout_s: float = 30.0
    prometheus_timeout_s: float = 10.0
    hostname: str = ""


def load_bundle(config: str | None) -> bundle_module.Bundle:
    """The bundle configuration (``--config``); ConfigError naming the file, line and key."""
    return bundle_module.load(config)


def read_host(request: Request) -> tuple[Host, tuple[str, ...]]:
    """The host the request describes, the workloads file merged in, and notes for the report.

    Raises :class:`AdviseError` (captures that do not form a host, samples of several hosts, an unreachable
    Prometheus) or ConfigError (the workloads file), each naming the file, key or URL.
    """
    captures, workloads_path = request.replay, request.workloads
    if request.scenario:
        try:
            scenario = scenarios.files(request.scenario)
        except ValueError as exc:
            raise AdviseError(str(exc)) from None
        captures, workloads_path = scenario.captures, workloads_path or scenario.workloads
    declared = workloads.load(workloads_path) if workloads_path else None
    hostname = request.hostname or (declared.host if declared and declared.host else "")
    if request.scenario and not hostname:  # another workloads file on a scenario: still the scenario's host
        hostname = workloads.load(scenario.workloads).host or ""
    notes: tuple[str, ...] = ()
    fallback = "host"
    try:
        if request.prometheus:
            from .prometheus import samples_from_prometheus

            samples = samples_from_prometheus(request.prometheus, request.window, request.selector, request.prometheus_timeout_s)
            sources: Sequence[str] = (f"{request.prometheus} (window {request.window})",)
        else:
            inputs = replay.read_inputs(captures, hostname, request.config)
            samples, sources, notes, fallback = list(inputs.samples), inputs.sources, inputs.notes, inputs.name or fallback
        host = host_of(samples, sources, hostname, fallback)
    except (SamplesError, replay.ReplayError) as exc:
        raise AdviseError(str(exc)) from None
    except ValueError as exc:  # the Prometheus reader's errors name the URL
        raise AdviseError(str(exc)) from None
    if declared:
        host = workloads.apply(declared, host)
        host = replace(host, sources=(*host.sources, declared.doc.where))
    if request.scenario:
        host = replace(host, sources=scenario_sources(request.scenario, scenario, host.sources))
    return host, notes


def scenario_sources(name: str, scenario: scenarios.Scenario, sources: Sequence[str]) -> tuple[str, ...]:
    """The sources as the report names them for a packaged scenario: its own files by name, relative to the
    scenario (``scenario h200x8: nvidia-smi-q.txt, topo-m.txt, workloads.yml``), not the installed paths; any
    other file (a workloads file of the user's) as the user gave it."""
    own = {*scenario.captures, scenario.workloads}
    files = [os.path.basename(s) for s in sources if s in own]
    return (f"scenario {name}: {', '.join(files)}", *(s for s in sources if s not in own))


def analyse(host: Host, bundle: bundle_module.Bundle | None = None, notes: Sequence[str] = ()) -> Report:
    """Score, findings and placement plan of ``host`` (rule based: no network, no LLM)."""
    findings = diagnose(host, bundle)
    return Report(
        host=host,
        score=score_host(host, bundle),
        findings=tuple(findings),
        plan=plan_placement(host, findings, bundle),
        notes=tuple(notes),
    )


def advise(request: Request, bundle: bundle_module.Bundle | None = None) -> Report:
    """The whole pipeline for ``request``; the narrative only when an LLM endpoint and model are given.

    Raises :class:`AdviseError` or :class:`~axonize.yaml_file.ConfigError` for bad input (never for an LLM
    problem: the narrative's error is kept in ``Report.narrative_error`` and the report completes).
    """
    if bundle is None:
        bundle = load_bundle(request.config)
    host, notes = read_host(request)
    report = analyse(host, bundle, notes)
    if request.llm_endpoint and request.llm_model:
        from .narrative import narrate

        text, error = narrate(report, request.llm_endpoint, request.llm_model, request.llm_timeout_s)
        report = replace(report, narrative=text, narrative_error=error)
    return report


__all__ = ["AdviseError", "ConfigError", "Request", "advise", "analyse", "read_host", "load_bundle"]
