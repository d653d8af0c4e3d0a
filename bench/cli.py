"""``axonize bench``: a load generator for any OpenAI-compatible server (vLLM, SGLang, TGI, llama.cpp, the gateway).

    axonize bench --base-url http://127.0.0.1:8000 [--model NAME] [--endpoint /v1/completions]
      [--num-prompts 100] [--input-len fixed:128] [--output-len fixed:128] [--dataset prompts.jsonl]
      [--request-rate inf] [--arrival poisson] [--max-concurrency N | --concurrency-sweep 1,2,4,8]
      [--no-stream] [--no-ignore-eos] [--metric-percentiles 50,90,99] [--json FILE]
      [--metrics-url http://127.0.0.1:8000/metrics ...] [--api-key KEY] [--header 'X-Customer: acme']

Prints the report as ``vllm bench serve`` does (:mod:`.report`), writes it as JSON with ``--json`` (a list of
reports for a concurrency sweep), and with ``--metrics-url`` checks that each engine's or gateway's counters
grew by what was sent (:mod:`.counters`). A progress count goes to stderr. Exit status: 0 the run completed
(failed requests are counted in the report, not fatal); 1 a counter check disagreed; 2 bad input or a server
or metrics URL that cannot be reached (the message names it).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import math
import os
import sys
from collections.abc import Sequence
from dataclasses import replace

from . import client, counters, report, run, workload


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="axonize bench", description=__doc__.split("\n\n")[0].strip("`"))
    p.add_argument("--base-url", required=True, metavar="URL", help="the server, without /v1 (http://127.0.0.1:8000)")
    p.add_argument("--endpoint", default=client.COMPLETIONS, choices=client.ENDPOINTS, help="default: %(default)s")
    p.add_argument("--model", default="", help="the model to ask for (default: the first /v1/models lists)")
    p.add_argument("--num-prompts", type=int, default=100, metavar="N", help="requests per run (default: %(default)s)")
    p.add_argument("--input-len", default="fixed:128", metavar="DIST", help="prompt tokens: fixed:N, uniform:LOW:HIGH, normal:MEAN:SD")
    p.add_argument("--output-len", default="fixed:128", metavar="DIST", help="output tokens (max_tokens), same forms")
    p.add_argument("--dataset", metavar="FILE", help='JSON lines {"prompt": "...", "max_tokens": N}; replaces --input-len')
    p.add_argument("--seed", type=int, default=0, help="seeds lengths, prompts and Poisson arrivals (default: 0)")
    p.add_argument("--request-rate", type=float, default=math.inf, metavar="RPS", help="requests per second (default: inf, all at once)")
    p.add_argument("--arrival", choices=run.ARRIVALS, default="poisson", help="gaps between starts (default: %(default)s)")
    cap = p.add_mutually_exclusive_group()
    cap.add_argument("--max-concurrency", type=int, metavar="N", help="requests in flight at most")
    cap.add_argument("--concurrency-sweep", metavar="N,N,...", help="one run per concurrency, e.g. 1,2,4,8")
    p.add_argument("--no-stream", dest="stream", action="store_false", help="ask for whole answers (no TTFT or ITL)")
    p.add_argument(
        "--no-ignore-eos", dest="ignore_eos", action="store_false", help="do not send ignore_eos/min_tokens (servers that refuse them)"
    )
    p.add_argument("--metric-percentiles", default="50,90,99", metavar="P,P,...", help="percentiles reported (default: %(default)s)")
    p.add_argument("--timeout", type=float, default=600.0, metavar="S", help="seconds one request may take (default: %(default)s)")
    p.add_argument("--api-key", default=os.environ.get("OPENAI_API_KEY", ""), help="sent as a bearer token (default: $OPENAI_API_KEY)")
    p.add_argument("--header", action="append", default=[], metavar="'NAME: VALUE'", help="an extra request header (repeatable)")
    p.add_argument("--metrics-url", action="append", default=[], metavar="URL", help="a /metrics to check before and after (repeatable)")
    p.add_argument(
        "--metrics-wait",
        type=float,
        default=10.0,
        metavar="S",
        help="seconds to let counters catch up after the run (default: %(default)s)",
    )
    p.add_argument("--json", metavar="FILE", help="write the report as JSON")
    return p


class UsageError(ValueError):
    """A bad flag value; the message names the flag."""


def _numbers(text: str, flag: str, kind=float) -> list:
    try:
        values = [kind(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise UsageError(f"{flag}: {text!r} is not a comma-separated list of numbers") from None
    if not values or any(v <= 0 for v in values):
        raise UsageError(f"{flag}: {text!r} needs positive numbers")
    return values


def _headers(args) -> tuple[tuple[str, str], ...]:
    out = [("Authorization", f"Bearer {args.api_key}")] if args.api_key else []
    for h in args.header:
        name, sep, value = h.partition(":")
        if not sep or not name.strip():
            raise UsageError(f"--header: {h!r} is not 'NAME: VALUE'")
        out.append((name.strip(), value.strip()))
    return tuple(out)


def _settings(args) -> run.Settings:
    if args.num_prompts < 1:
        raise UsageError("--num-prompts must be at least 1")
    if args.request_rate <= 0:
        raise UsageError("--request-rate must be above 0 (inf: all at once)")
    if args.max_concurrency is not None and args.max_concurrency < 1:
        raise UsageError("--max-concurrency must be at least 1")
    return run.Settings(
        base_url=args.base_url.rstrip("/").removesuffix("/v1"),
        endpoint=args.endpoint,
        model=args.model,
        request_rate=args.request_rate,
        arrival=args.arrival,
        max_concurrency=args.max_concurrency,
        stream=args.stream,
        ignore_eos=args.ignore_eos,
        timeout_s=args.timeout,
        headers=_headers(args),
        seed=args.seed,
    )


def bench(args, out=None) -> int:
    """Run the benchmark ``args`` describe; the exit status (see the module docstring). Raises UsageError,
    :class:`~.workload.WorkloadError`, :class:`~.run.Unreachable`, :class:`~.counters.MetricsError`."""
    out = out or sys.stdout
    settings = _settings(args)
    percentiles = _numbers(args.metric_percentiles, "--metric-percentiles")
    if any(p >= 100 for p in percentiles):
        raise UsageError("--metric-percentiles: each must be below 100")
    sweep = _numbers(args.concurrency_sweep, "--concurrency-sweep", int) if args.concurrency_sweep else [settings.max_concurrency]
    as_text = settings.endpoint == client.CHAT
    if args.dataset:
        requests_ = workload.from_dataset(args.dataset, args.num_prompts, args.output_len, args.seed)
    else:
        requests_ = workload.synthetic(args.num_prompts, args.input_len, args.output_len, args.seed, as_text=as_text)
    served = asyncio.run(run.reachable(settings))
    if not settings.model:
        if not served:
            raise run.Unreachable(f"{settings.base_url}/v1/models lists no model: pass --model")
        settings = replace(settings, model=served[0])
    reports, mismatch = [], False
    for cap in sweep:
        this = replace(settings, max_concurrency=cap)
        before = {url: counters.read(url, this.model) for url in args.metrics_url}
        label = "bench" if cap is None or len(sweep) == 1 else f"bench (concurrency {cap})"
        results, duration = asyncio.run(run.run(requests_, this, run.Progress(len(requests_), label)))
        rows = [row for url in args.metrics_url for row in counters.settle(url, this.model, before[url], results, args.metrics_wait)]
        mismatch |= not all(r["agrees"] for r in rows)
        about = {
            "date": datetime.datetime.now().strftime("%Y%m%d-%H%M%S"),
            "backend": "openai-chat" if as_text else "openai",
            "base_url": this.base_url,
            "endpoint": this.endpoint,
            "model_id": this.model,
            "num_prompts": len(requests_),
            "request_rate": "inf" if math.isinf(this.request_rate) else this.request_rate,
            "burstiness": 1.0 if this.arrival == "poisson" else "inf",
            "arrival": this.arrival,
            "max_concurrency": cap,
        }
        rep = report.build(results, duration, percentiles, **about)
        rep["counter_checks"] = rows
        reports.append(rep)
        print(report.table(rep, percentiles), file=out)
        if rows:
            print(counters.table(rows), file=out)
        elif args.metrics_url:
            print("no vllm: or axonize_gateway_ counters for this model at the --metrics-url given", file=out)
    if args.json:
        try:
            with open(args.json, "w", encoding="utf-8") as fh:
                json.dump(reports[0] if len(reports) == 1 else reports, fh, indent=1, default=str)
        except OSError as exc:
            raise UsageError(f"--json {args.json}: {exc.strerror or exc}") from None
    return 1 if mismatch else 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return bench(args)
    except (UsageError, workload.WorkloadError, run.Unreachable, counters.MetricsError) as exc:
        print(f"axonize bench: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
