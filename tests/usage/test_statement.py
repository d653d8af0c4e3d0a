"""``axonize usage`` against a real Prometheus serving a month of gateway-like series, backfilled with
``promtool tsdb create-blocks-from openmetrics`` (as benchmarks/grafana_panels.py does), and a hand-computed statement.

November 2024 (UTC, 30 days = 720 h), samples every hour on the hour from 31 October to 1 December 12:00, hour k
counted from 1 November 00:00 (k = 0 .. 720 is the month; the samples before and after must not count):

* acme / llama: requests 240 + 10 k until a gateway restart at k = 336 (0 there, then +10 an hour): 3,350 + 3,840
  = 7,190 (the increment of the restart hour is lost, as Prometheus loses it); prompt +1,000/h = 720,000;
  completion +3,000/h = 2,160,000, of which estimated +1/h = 720; cost $9/h to k = 240, then $3/h (and $100/h
  in October and December): 9 x 240 + 3 x 480 = $3,600; per 1M tokens 3,600 / 2,880,000 x 10^6 = $1,250.
* globex / llama: requests +2/h = 1,440; prompt and completion +500/h = 360,000 each; cost $3/h from k = 0 to 240,
  then no series: $720; $1,000 per 1M tokens.
* acme / qwen: requests +5/h = 3,600; prompt +200/h = 144,000; completion +300/h = 216,000; $2/h all month =
  $1,440; $4,000 per 1M tokens.
* initech / mistral: requests +1/h = 720, prompt and completion +100/h = 72,000 each, no cost series: cost "-".
* initech / qwen: traffic in October only: not in the statement. A job the selector leaves out: ignored.
"""

from __future__ import annotations

import csv
import datetime as dt
import os
import subprocess

import pytest

from axonize.processes import PrometheusServer, free_port
from axonize.usage import cli
from tests.conftest import require_binary, requires

START = int(dt.datetime(2024, 11, 1, tzinfo=dt.UTC).timestamp())
HOURS = range(-24, 733)  # 31 October 00:00 to 1 December 12:00
NOW = START + 400 * 86400  # the statement is asked a year later (the blocks are kept 20 years)
GW = 'job="axonize-gateway",instance="gw1:9950"'


def _linear(rate: float, base: float = 0.0):
    return lambda k: base + rate * (k + 24)


def _acme_llama_requests(k: int) -> float:
    return 240 + 10 * k if k < 336 else 10 * (k - 336)


SERIES = {
    # (metric, labels): value at hour k, or None for no sample
    ("axonize_gateway_requests_total", f'{GW},customer="acme",model="llama",endpoint="/v1/chat/completions",status="200"'): lambda k: (
        _acme_llama_requests(k) if k >= 0 else 10 * (k + 24)
    ),
    ("axonize_gateway_prompt_tokens_total", f'{GW},customer="acme",model="llama"'): _linear(1000),
    ("axonize_gateway_completion_tokens_total", f'{GW},customer="acme",model="llama"'): _linear(3000),
    ("axonize_gateway_estimated_completion_tokens_total", f'{GW},customer="acme",model="llama"'): _linear(1),
    ("customer_model:axonize_gpu_cost:dollars_per_hour", 'customer="acme",model="llama"'): lambda k: (
        100 if k < 0 or k > 720 else 9 if k <= 240 else 3
    ),
    ("axonize_gateway_requests_total", f'{GW},customer="globex",model="llama",endpoint="/v1/completions",status="200"'): lambda k: (
        2 * k if k >= 0 else None
    ),
    ("axonize_gateway_prompt_tokens_total", f'{GW},customer="globex",model="llama"'): lambda k: 500 * k if k >= 0 else None,
    ("axonize_gateway_completion_tokens_total", f'{GW},customer="globex",model="llama"'): lambda k: 500 * k if k >= 0 else None,
    ("customer_model:axonize_gpu_cost:dollars_per_hour", 'customer="globex",model="llama"'): lambda k: 3 if 0 <= k <= 240 else None,
    ("axonize_gateway_requests_total", f'{GW},customer="acme",model="qwen",endpoint="/v1/chat/completions",status="200"'): _linear(5),
    ("axonize_gateway_prompt_tokens_total", f'{GW},customer="acme",model="qwen"'): _linear(200),
    ("axonize_gateway_completion_tokens_total", f'{GW},customer="acme",model="qwen"'): _linear(300),
    ("customer_model:axonize_gpu_cost:dollars_per_hour", 'customer="acme",model="qwen"'): lambda k: 2,
    ("axonize_gateway_requests_total", f'{GW},customer="initech",model="mistral",endpoint="/v1/completions",status="200"'): _linear(1),
    ("axonize_gateway_prompt_tokens_total", f'{GW},customer="initech",model="mistral"'): _linear(100),
    ("axonize_gateway_completion_tokens_total", f'{GW},customer="initech",model="mistral"'): _linear(100),
    ("axonize_gateway_requests_total", f'{GW},customer="initech",model="qwen",endpoint="/v1/embeddings",status="200"'): lambda k: (
        7 * (k + 24) if k < 0 else None
    ),
    ("axonize_gateway_requests_total", 'job="elsewhere",customer="acme",model="llama",endpoint="/v1/completions",status="200"'): _linear(
        1e6
    ),
}

EXPECTED = [
    # customer, model, requests, prompt, completion, estimated, cost $, $ per 1M tokens ("" for none)
    ("acme", "llama", 7190, 720000, 2160000, 720, 3600.0, 1250.0),
    ("acme", "qwen", 3600, 144000, 216000, 0, 1440.0, 4000.0),
    ("globex", "llama", 1440, 360000, 360000, 0, 720.0, 1000.0),
    ("initech", "mistral", 720, 72000, 72000, 0, "", ""),
]


def openmetrics() -> str:
    out = []
    for name in dict.fromkeys(name for name, _ in SERIES):
        out.append(f"# TYPE {name} unknown")
        for (metric, labels), value_at in SERIES.items():
            if metric != name:
                continue
            for k in HOURS:
                value = value_at(k)
                if value is not None:
                    out.append(f"{name}{{{labels}}} {value:g} {START + 3600 * k}")
    return "\n".join(out) + "\n# EOF\n"


class BlocksPrometheus(PrometheusServer):
    """A Prometheus with no targets serving the TSDB blocks in ``data``, kept 20 years."""

    def __init__(self, data: str):
        super().__init__({})
        self.data = data

    def argv(self) -> list[str]:
        argv = [a for a in super().argv() if not a.startswith("--storage.tsdb.path=")]
        return [*argv, f"--storage.tsdb.path={self.data}", "--storage.tsdb.retention.time=20y"]


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory):
    promtool = require_binary("promtool")
    work = tmp_path_factory.mktemp("usage")
    text, data = work / "month.om.txt", work / "tsdb"
    text.write_text(openmetrics())
    subprocess.run(
        [promtool, "tsdb", "create-blocks-from", "openmetrics", str(text), str(data)], check=True, capture_output=True, timeout=300
    )
    with BlocksPrometheus(str(data)) as server:
        yield server


@pytest.mark.integration
@requires("prometheus")
def test_the_months_statement_is_the_hand_computed_one(prometheus, tmp_path, capsys):
    out = tmp_path / "usage.csv"
    assert cli.main(["--prometheus", prometheus.url, "--month", "2024-11", "--csv", str(out), "--step", "1h"], now=NOW) == 0
    rows = list(csv.DictReader(out.open()))
    assert [r["month"] for r in rows] == ["2024-11"] * 4
    got = [
        (r["customer"], r["model"], int(r["requests"]), int(r["prompt_tokens"]), int(r["completion_tokens"]),
         int(r["estimated_completion_tokens"]), r["gpu_cost_dollars"] and float(r["gpu_cost_dollars"]),
         r["dollars_per_million_tokens"] and float(r["dollars_per_million_tokens"]))
        for r in rows
    ]  # fmt: skip
    assert got == [pytest.approx(e) if e[6] != "" else e for e in EXPECTED]
    table = capsys.readouterr().out
    assert "Usage and GPU cost, 2024-11\n" in table
    # acme's total over its two models: 10,790 requests, $5,040 for 3,240,000 tokens = $1,555.56 per 1M
    assert any(
        line.split()[:3] == ["acme", "(all", "models)"] and "10,790" in line and "5,040.00" in line and "1,555.56" in line
        for line in table.splitlines()
    )
    assert "(all customers)" in table and "5,760.00" in table  # 3,600 + 1,440 + 720
    assert "720 completion tokens were counted from stream chunks" in table


@pytest.mark.integration
@requires("prometheus")
def test_a_month_without_traffic_and_a_month_to_date(prometheus, capsys):
    assert cli.main(["--prometheus", prometheus.url, "--month", "2024-09"], now=NOW) == 0
    assert "no gateway traffic in this month" in capsys.readouterr().out
    # asked on 16 November 00:00: the statement runs to then (k = 360)
    assert cli.main(["--prometheus", prometheus.url, "--month", "2024-11", "--step", "1h"], now=START + 360 * 3600) == 0
    text = capsys.readouterr().out
    assert "(to date, 2024-11-16 00:00 UTC)" in text
    qwen = next(line for line in text.splitlines() if line.startswith("acme") and " qwen " in line)
    assert "1,800" in qwen and "720.00" in qwen  # 5 x 360 requests, $2 x 360


def test_an_unreachable_prometheus_exits_2_naming_it(capsys):
    url = f"http://127.0.0.1:{free_port()}"
    assert cli.main(["--prometheus", url, "--month", "2024-11"], now=NOW) == 2
    assert f"cannot reach Prometheus at {url}" in capsys.readouterr().err


@pytest.mark.parametrize(
    "args, error",
    [
        (["--month", "2024-13"], "--month '2024-13': expected YYYY-MM"),
        (["--month", "2031-01"], "--month 2031-01: it has not begun"),
        (["--month", "2024-11", "--step", "7m"], "--step 7m: must be whole seconds dividing an hour"),
    ],
)
def test_bad_input_exits_2_naming_it(args, error, capsys):
    assert cli.main(["--prometheus", "http://127.0.0.1:9", *args], now=NOW) == 2
    assert error in capsys.readouterr().err


@pytest.mark.integration
@requires("prometheus")
def test_a_short_retention_is_warned_about(tmp_path, capsys):
    with PrometheusServer({}) as server:  # default retention: 15 days
        assert cli.main(["--prometheus", server.url, "--month", "2024-11", "--csv", os.devnull], now=NOW) == 0
    assert "keeps 15 days of data" in capsys.readouterr().err
