"""``axonize usage``: what each customer used of each model in a calendar month, and its GPU cost.

    axonize usage --prometheus URL --month 2026-11 [--csv FILE] [--step 1m] [--config bundle.yml]

Reads the gateway's counters and the customer-cost recording rules from Prometheus (:mod:`.statement`) and prints
a table: per customer and model, requests, prompt and completion tokens, GPU cost ($) and $ per million tokens,
with each customer's total and everyone's. ``--csv FILE`` writes the customer/model rows (columns :data:`CSV_COLUMNS`).
Months are UTC; the current month is a statement to date. Exit status: 0 done (also with no traffic); 2 bad
input, an unreachable Prometheus or a refused query (the message names the URL), an unwritable CSV.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import sys
import time
from collections.abc import Sequence

from axonize import bundle
from axonize.promql import seconds
from axonize.yaml_file import ConfigError

from . import month as months
from .prometheus import Prometheus, PrometheusError
from .statement import Row, build, retention_warning, total

CSV_COLUMNS = (
    "month", "customer", "model", "requests", "prompt_tokens", "completion_tokens", "estimated_completion_tokens",
    "gpu_cost_dollars", "dollars_per_million_tokens",
)  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="axonize usage", description=__doc__.split("\n\n")[0].strip("`"))
    p.add_argument("--prometheus", required=True, metavar="URL", help="the Prometheus that scrapes the gateway and runs the rules")
    p.add_argument("--month", required=True, metavar="YYYY-MM", help="the calendar month (UTC), e.g. 2026-11")
    p.add_argument("--csv", metavar="FILE", help="also write the rows as CSV")
    p.add_argument("--step", default="1m", metavar="DURATION", help="resolution of the cost integral, dividing 1h (default: 1m)")
    p.add_argument("--config", metavar="FILE", help="bundle configuration for selectors.gateway (default: the packaged one)")
    return p


def _money(value: float | None) -> str:
    return "-" if value is None else f"{value:,.2f}"


def table(rows: Sequence[Row], month: months.Month) -> str:
    """The statement as text: the rows, a total per customer with several models, and everyone's total."""
    to = "" if month.complete else f" (to date, {dt.datetime.fromtimestamp(month.end, months.UTC):%Y-%m-%d %H:%M} UTC)"
    head = ("customer", "model", "requests", "prompt tokens", "completion tokens", "GPU cost $", "$/1M tokens")
    lines: list[tuple[str, ...]] = []
    for customer in dict.fromkeys(r.customer for r in rows):
        mine = [r for r in rows if r.customer == customer]
        shown = mine + ([total(mine, customer)] if len(mine) > 1 else [])
        for r in shown:
            model = r.model or "(all models)"
            lines.append((r.customer, model, f"{r.requests:,}", f"{r.prompt_tokens:,}", f"{r.completion_tokens:,}",
                          _money(r.gpu_cost_dollars), _money(r.dollars_per_million_tokens)))  # fmt: skip
    everyone = total(rows, "(all customers)")
    lines.append((everyone.customer, "", f"{everyone.requests:,}", f"{everyone.prompt_tokens:,}", f"{everyone.completion_tokens:,}",
                  _money(everyone.gpu_cost_dollars), _money(everyone.dollars_per_million_tokens)))  # fmt: skip
    widths = [max(len(str(x[i])) for x in [head, *lines]) for i in range(len(head))]
    fmt = "  ".join(f"{{:<{w}}}" if i < 2 else f"{{:>{w}}}" for i, w in enumerate(widths))
    out = [f"Usage and GPU cost, {month.name}{to}", fmt.format(*head), fmt.format(*("-" * w for w in widths))]
    out += [fmt.format(*line) for line in lines]
    estimated = sum(r.estimated_completion_tokens for r in rows)
    if estimated:
        out.append(
            f"{estimated:,} completion tokens were counted from stream chunks (streams cut before their usage), not the engine's usage."
        )
    if not rows:
        out.append("no gateway traffic in this month")
    return "\n".join(out)


def write_csv(path: str, rows: Sequence[Row], month: months.Month) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(CSV_COLUMNS)
        for r in rows:
            cost, per = r.gpu_cost_dollars, r.dollars_per_million_tokens
            w.writerow([month.name, r.customer, r.model, r.requests, r.prompt_tokens, r.completion_tokens,
                        r.estimated_completion_tokens, "" if cost is None else f"{cost:.6f}", "" if per is None else f"{per:.6f}"])  # fmt: skip


def main(argv: Sequence[str] | None = None, now: float | None = None) -> int:
    args = build_parser().parse_args(argv)
    now = time.time() if now is None else now
    try:
        month = months.parse(args.month, now)
        step = seconds(args.step)
        if step < 1 or step.denominator != 1 or 3600 % step:
            raise ValueError(f"--step {args.step}: must be whole seconds dividing an hour (1m, 5m, 15m, 1h)")
        selector = bundle.load(args.config).selectors.gateway
        prometheus = Prometheus(args.prometheus)
        rows = build(prometheus, month, selector, int(step))
        warning = retention_warning(prometheus, month, now)
        if args.csv:
            write_csv(args.csv, rows, month)
    except (ValueError, ConfigError, PrometheusError) as exc:
        print(f"axonize usage: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"axonize usage: --csv {args.csv}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    if warning:
        print(f"axonize usage: warning: {warning}", file=sys.stderr)
    print(table(rows, month))
    return 0


if __name__ == "__main__":
    sys.exit(main())
