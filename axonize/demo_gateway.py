"""The demo's customers: ``axonize-gateway`` in front of the real vLLM, two API keys named as customers, traffic
from each sent by ``axonize bench``, and the customer-cost rules' cost per customer read back from Prometheus.

Only ``axonize demo --with-vllm`` uses it. Like the rest of the demo it drives the components as processes
(``python -m axonize.gateway``, ``python -m axonize.cli bench``): the core imports no component. The keys are
named in the gateway's configuration by their salted hashes, which the gateway prints (``--hash-key``); the
raw keys stay in this process and the requests.

Each customer first sends one small request (:data:`WARM_UP`), so that its ``axonize_gateway_requests_total``
series exists before the measured traffic: a counter series born at its first request's value shows
``rate()`` no increase for that request (the gateway exposes a named customer's token counters at 0 from the
start; a request counter's labels include the status, which it cannot know in advance). Then both customers'
``axonize bench`` runs go at once, different shapes: :data:`CUSTOMERS`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass

import requests
import yaml

from .processes import ManagedProcess, PrometheusServer, free_port, wait_http


@dataclass(frozen=True)
class Customer:
    """A demo customer: its name, its API key (a demo value, no secret) and its ``axonize bench`` workload
    (``requests`` completions of ``input_len`` prompt tokens and exactly ``output_len`` output tokens)."""

    name: str
    key: str
    requests: int
    input_len: int
    output_len: int


CUSTOMERS = (
    Customer("acme", "sk-demo-acme-3f1c9a7e52b04d18", requests=12, input_len=64, output_len=32),
    Customer("globex", "sk-demo-globex-8e2d6b0a41c97f35", requests=4, input_len=128, output_len=16),
)
"""acme sends many short chats, globex a few long prompts: their shares of the tokens differ from their shares
of the requests."""

WARM_UP = {"prompt": [100, 101, 102, 103], "max_tokens": 1, "ignore_eos": True, "temperature": 0}
"""The body of each customer's first request (4 prompt token ids, 1 output token)."""

#: The cost-per-customer table, one series per customer and model (labels ``customer``, ``model``).
CUSTOMER_QUERIES = {
    "requests": "sum by (customer, model) (axonize_gateway_requests_total)",
    "prompt": "sum by (customer, model) (axonize_gateway_prompt_tokens_total)",
    "completion": "sum by (customer, model) (axonize_gateway_completion_tokens_total)",
    # recording rules (rules/customer-cost.rules.yml)
    "share": "customer_model:axonize_gateway_token_share:ratio",
    "cost": "customer_model:axonize_gpu_cost:dollars_per_hour",
    "per_request": "customer_model:axonize_gpu_cost_per_request:dollars",
    "month": "customer:axonize_gpu_cost:dollars_per_month",  # per customer: the sum over its models
}


def key_hash(key: str, salt_file: str) -> str:
    """The gateway's hash of ``key`` with the salt in ``salt_file`` (``axonize-gateway --hash-key``); RuntimeError."""
    done = subprocess.run(
        [sys.executable, "-m", "axonize.gateway", "--identity.salt-file", salt_file, "--hash-key"],
        input=key + "\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    if done.returncode != 0:
        raise RuntimeError(f"axonize-gateway --hash-key failed: {done.stderr.strip()}")
    return done.stdout.strip()


def served_model(vllm_url: str) -> str:
    """The first model ``GET {vllm_url}/v1/models`` lists; RuntimeError naming the URL."""
    url = f"{vllm_url}/v1/models"
    try:
        answer = requests.get(url, timeout=10)
        answer.raise_for_status()
        return answer.json()["data"][0]["id"]
    except (requests.RequestException, ValueError, KeyError, IndexError) as exc:
        raise RuntimeError(f"{url} does not list a model: {exc}") from None


def start_gateway(workdir: str, vllm_url: str, model: str, started: list) -> str:
    """``axonize-gateway`` routing ``model`` to ``vllm_url``, :data:`CUSTOMERS`' keys named; its host:port."""
    salt = os.path.join(workdir, "gateway.salt")
    with open(salt, "w") as fh:
        fh.write(os.urandom(16).hex() + "\n")
    config = os.path.join(workdir, "gateway.yml")
    port = free_port()
    with open(config, "w") as fh:
        yaml.safe_dump(
            {
                "upstreams": [f"{model}={vllm_url}"],
                "identity": {"salt_file": salt, "customers": {key_hash(c.key, salt): c.name for c in CUSTOMERS}, "require_known": True},
                "web": {"listen_address": f"127.0.0.1:{port}"},
            },
            fh,
        )
    gateway = ManagedProcess(
        "axonize-gateway", [sys.executable, "-m", "axonize.gateway", "--config", config], os.path.join(workdir, "gateway.log")
    )
    started.append(gateway)
    wait_http(f"http://127.0.0.1:{port}/-/ready", 30, gateway)
    return f"127.0.0.1:{port}"


def warm_up(gateway: str, model: str, prom: PrometheusServer) -> dict[str, dict]:
    """Each customer's first request (:data:`WARM_UP`) through the gateway, then wait until Prometheus holds both
    customers' request series; ``{customer: the answer's usage}``. RuntimeError naming the customer."""
    usage = {}
    for c in CUSTOMERS:
        answer = requests.post(
            f"http://{gateway}/v1/completions", json={"model": model, **WARM_UP}, headers={"Authorization": f"Bearer {c.key}"}, timeout=120
        )
        if answer.status_code != 200:
            raise RuntimeError(f"the gateway answered {c.name}'s first request with {answer.status_code}: {answer.text[:300]}")
        usage[c.name] = answer.json()["usage"]
    names = "|".join(c.name for c in CUSTOMERS)
    prom.wait_for(f'axonize_gateway_requests_total{{customer=~"{names}"}}', timeout=30, min_results=len(CUSTOMERS))
    return usage


def send_traffic(gateway: str, model: str, workdir: str) -> dict[str, dict]:
    """Both customers' ``axonize bench`` runs at once (streamed, ``ignore_eos``); ``{customer: its --json report}``.

    RuntimeError with the failing run's output."""
    runs = {}
    for i, c in enumerate(CUSTOMERS):
        report = os.path.join(workdir, f"bench-{c.name}.json")
        argv = [
            sys.executable, "-m", "axonize.cli", "bench", "--base-url", f"http://{gateway}", "--model", model,
            "--num-prompts", str(c.requests), "--input-len", f"fixed:{c.input_len}", "--output-len", f"fixed:{c.output_len}",
            "--max-concurrency", "4", "--seed", str(i), "--json", report,
        ]  # fmt: skip
        env = {**os.environ, "OPENAI_API_KEY": c.key}  # the key reaches bench through its environment, not its argv
        runs[c.name] = (report, subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env))
    out = {}
    for name, (report, proc) in runs.items():
        output, _ = proc.communicate(timeout=300)
        if proc.returncode != 0:
            raise RuntimeError(f"axonize bench for {name} exited with {proc.returncode}:\n{output[-2000:]}")
        with open(report) as fh:
            out[name] = json.load(fh)
    return out


def traffic_lines(first: dict[str, dict], reports: dict[str, dict]) -> str:
    """What each customer sent: the first request's usage and the bench run's counts, TTFT and throughput."""
    lines = []
    for c in CUSTOMERS:
        u, r = first[c.name], reports[c.name]
        lines.append(
            f"  {c.name}: 1 first request ({u['prompt_tokens']} + {u['completion_tokens']} tokens), then axonize bench: "
            f"{r['completed']} requests ({r['failed']} failed), {r['total_input_tokens']} prompt + {r['total_output_tokens']} "
            f"output tokens in {r['duration']:.1f} s, TTFT p50 {r['median_ttft_ms']:.0f} ms, {r['output_throughput']:.0f} output tokens/s"
        )
    return "\n".join(lines)


def customer_table(prom: PrometheusServer, at: float | None = None) -> list[dict]:
    """One dict per customer and model with :data:`CUSTOMER_QUERIES`' columns, read from PromQL at Unix time ``at``."""
    rows: dict[tuple[str, str], dict] = {}
    month: dict[str, float] = {}
    for column, promql in CUSTOMER_QUERIES.items():
        for series in prom.query(promql, at=at):
            labels = series["metric"]
            if column == "month":
                month[labels.get("customer", "")] = float(series["value"][1])
            elif "customer" in labels and "model" in labels:
                rows.setdefault((labels["customer"], labels["model"]), {"customer": labels["customer"], "model": labels["model"]})[
                    column
                ] = float(series["value"][1])
    for (customer, _), row in rows.items():
        if customer in month:
            row["month"] = month[customer]
    return [rows[k] for k in sorted(rows)]


def format_customer_table(rows: list[dict]) -> str:
    """The table: requests and tokens (the gateway's counters), token share, $/hour, $ per request, projected $/month."""

    def cell(row: dict, key: str, fmt: str) -> str:
        return fmt.format(row[key]) if key in row and row[key] == row[key] else "-"

    header = ("Customer", "Model", "Requests", "Prompt tokens", "Output tokens", "Token share", "$/hour", "$/request", "$/month")
    lines = [
        (
            r["customer"],
            r["model"],
            cell(r, "requests", "{:.0f}"),
            cell(r, "prompt", "{:.0f}"),
            cell(r, "completion", "{:.0f}"),
            cell(r, "share", "{:.3f}"),
            cell(r, "cost", "{:.2f}"),
            cell(r, "per_request", "{:.6f}"),
            cell(r, "month", "{:,.0f}"),
        )
        for r in rows
    ]
    widths = [max(len(str(x)) for x in col) for col in zip(header, *lines)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return "\n".join([fmt.format(*header), fmt.format(*("-" * w for w in widths))] + [fmt.format(*line) for line in lines])
