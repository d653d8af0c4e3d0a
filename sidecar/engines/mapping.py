"""The declarative shape of an engine adapter: a table of rules, no code per engine.

A :class:`Rule` maps one family of an engine's exposition onto one normalized
family (:mod:`axonize.sidecar.normalized`): the unit scale, the labels it keeps,
which part of a histogram it reads, and which newer name replaces it. An
:class:`Adapter` is an engine's rules plus its labels, its detection prefix and
the families it deliberately leaves out (with the reason). The same tables drive
the normalization (:mod:`axonize.sidecar.normalize`) and the mapping table in
docs/metrics.md (:mod:`axonize.sidecar.docs`), so the two cannot drift.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..normalized import BY_NAME


@dataclass(frozen=True)
class Rule:
    """One engine family -> one normalized family.

    ``source`` is the family as the engine exposes it (``vllm:prompt_tokens_total``,
    ``tgi_request_count``). ``scale`` multiplies values, histogram sums and bucket
    bounds into the normalized unit (µs -> s is ``1e-6``); counts are never scaled.
    ``labels`` maps engine labels onto normalized ones, beyond the adapter's.
    ``part="sum"`` reads a histogram's ``_sum`` as a counter (TGI has no token
    counters, only per-request token histograms). ``count_from`` makes a
    histogram from two counters (Triton's cumulative durations): ``source`` gives
    ``_sum``, ``count_from`` gives ``_count`` and the single ``+Inf`` bucket, so
    rates give the mean but no quantile. ``replaced_by`` names the newer family of
    the same series: when the scrape has it, this rule is skipped, so an engine
    that serves both names during a deprecation window is counted once.
    ``versions`` and ``note`` are for the docs.
    """

    source: str
    target: str
    scale: float = 1.0
    labels: dict[str, str] = field(default_factory=dict)
    part: str = ""
    count_from: str = ""
    replaced_by: str = ""
    versions: str = ""
    note: str = ""

    def __post_init__(self) -> None:
        family = BY_NAME.get(self.target)
        if family is None:
            raise ValueError(f"{self.source}: {self.target!r} is not a normalized family")
        if self.part not in ("", "sum"):
            raise ValueError(f"{self.source}: part {self.part!r} is not '' or 'sum'")
        if (self.part or self.count_from) and family.type != ("counter" if self.part else "histogram"):
            raise ValueError(f"{self.source}: part/count_from do not fit {family.type} {self.target}")

    @property
    def source_type(self) -> str:
        """The type the engine's family must have: "counter", "gauge" or "histogram"."""
        family = BY_NAME[self.target]
        if self.part == "sum":
            return "histogram"
        if self.count_from:
            return "counter"
        return family.type


@dataclass(frozen=True)
class Adapter:
    """An engine's mapping table.

    ``engine`` is the ``engine`` label value; ``prefix`` the name prefix that
    identifies the engine's metrics for auto-detection. ``labels`` maps the
    engine's labels that every family carries (``model_name`` -> ``model``, vLLM's
    ``engine`` -> ``engine_index``); an engine label mapped nowhere is dropped and
    the series that differ only in it are merged (summed; ratios take the max).
    ``unmapped`` lists engine families that have no normalized family, each with
    the reason; ``source`` cites where names, units and meanings come from.
    """

    engine: str
    title: str
    prefix: str
    labels: dict[str, str]
    rules: tuple[Rule, ...]
    unmapped: dict[str, str]
    source: str
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for rule in self.rules:
            if not rule.source.startswith(self.prefix):
                raise ValueError(f"{self.engine}: {rule.source} does not start with {self.prefix!r}")
            if rule.replaced_by and not any(r.source == rule.replaced_by for r in self.rules):
                raise ValueError(f"{self.engine}: {rule.source} is replaced by {rule.replaced_by}, which has no rule")

    @property
    def sample_names(self) -> frozenset[str]:
        """The sample names the rules read, for :func:`axonize.sidecar.parse.read`: a counter's or gauge's
        own name (``vllm:prompt_tokens_total``, ``tgi_request_count``), a histogram's ``_bucket``, ``_sum``
        and ``_count`` (checked against the ``+Inf`` bucket), only ``_sum`` for ``part="sum"``. A histogram's
        bare name is read too: no valid line has it, so a line that does is reported as malformed
        (Triton's documented example writes its buckets without ``_bucket``)."""
        names = set()
        for rule in self.rules:
            if rule.source_type != "histogram":
                names.update(filter(None, (rule.source, rule.count_from)))
            elif rule.part == "sum":
                names.add(rule.source + "_sum")
            else:
                names.update((rule.source, rule.source + "_bucket", rule.source + "_sum", rule.source + "_count"))
        return frozenset(names)

    @property
    def type_names(self) -> frozenset[str]:
        """Families whose ``# TYPE`` line is read: the histograms, which the parser groups by it.
        Counters and gauges are read by sample name, typed or not."""
        return frozenset(rule.source for rule in self.rules if rule.source_type == "histogram")
