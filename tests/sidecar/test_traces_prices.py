"""The traces receiver's GPU prices: the table read from the real exporter's /metrics (its replay of a real H200 in
MIG mode), what a failing exporter leaves (the last good table, counted errors), and each request's cost."""

from __future__ import annotations

import asyncio
import logging
import socket
import threading

import pytest

from axonize import exposition_text
from axonize.bundle import CostModel
from axonize.config import parse_duration
from axonize.http import Exposition
from axonize.names.traces import COST_BUCKETS
from axonize.sidecar import cli, prices
from axonize.sidecar.collection import CollectionLoop
from axonize.sidecar.prices import PriceError, Prices, request_cost
from axonize.sidecar.scrape import new_session
from axonize.sidecar.spans import Joiner, SpanRecord
from axonize.sidecar.targets import finish, parse_target
from axonize.sidecar.trace_metrics import TraceMetrics
from tests.conftest import FIXTURES, NVIDIA, run_exporter, samples
from tests.sidecar.servers import FakeEngines

H200_MIG = [NVIDIA / "h200-mig_drv590_nvidia-smi-q_load.txt", NVIDIA / "h200-mig_drv590_nvidia-smi-L.txt"]


@pytest.fixture(scope="module")
def exporter_text() -> str:
    """The exporter's exposition of the H200 MIG capture (``--replay --print``)."""
    out = run_exporter("--replay", *map(str, H200_MIG), "--print")
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_the_table_prices_gpus_and_mig_devices_as_the_cost_rule_does(exporter_text):
    table = prices.parse(exporter_text)
    exposed = samples(exporter_text)
    (gpu_uuid,) = [dict(k)["uuid"] for k in exposed["axonize_gpu_price_dollars_per_hour"]]
    assert table[gpu_uuid] == max(exposed["axonize_gpu_price_dollars_per_hour"].values())

    instances = {(dict(k)["uuid"], dict(k)["gpu_instance_id"]): v for k, v in exposed["axonize_mig_price_dollars_per_hour"].items()}
    devices: dict[tuple[str, str], list[str]] = {}
    for key in exposed["axonize_mig_info"]:
        labels = dict(key)
        devices.setdefault((labels["uuid"], labels["gpu_instance_id"]), []).append(labels["mig_uuid"])
    assert set(table) == {gpu_uuid, *(m for ms in devices.values() for m in ms)}
    assert any(len(ms) > 1 for ms in devices.values()), "the capture has a GPU instance with two compute instances"
    for key, mig_uuids in devices.items():
        # each device of a GPU instance costs the same, and together they cost the instance
        assert [table[m] for m in mig_uuids] == pytest.approx([instances[key] / len(mig_uuids)] * len(mig_uuids))
        assert sum(table[m] for m in mig_uuids) == pytest.approx(instances[key])
    assert sum(table[m] for ms in devices.values() for m in ms) <= table[gpu_uuid]


@pytest.mark.parametrize(
    "body, kind, says",
    [
        ('axonize_gpu_price_dollars_per_hour{uuid="GPU-a" 2\n', "parse", "not the Prometheus text format"),
        ("<html><body>Grafana</body></html>\n", "parse", "not the Prometheus text format"),
        ('# TYPE vllm:num_requests_running gauge\nvllm:num_requests_running{model_name="m"} 1\n', "missing", "not an Axonize exporter"),
    ],
)
def test_text_that_is_not_an_exporters_is_refused_with_its_reason(body, kind, says):
    with pytest.raises(PriceError, match=says) as caught:
        prices.parse(body)
    assert caught.value.kind == kind


def test_prices_that_are_not_numbers_leave_their_device_unpriced():
    text = (
        "# TYPE axonize_gpu_price_dollars_per_hour gauge\n"
        'axonize_gpu_price_dollars_per_hour{uuid="GPU-a"} NaN\n'
        'axonize_gpu_price_dollars_per_hour{uuid="GPU-b"} -1\n'
        'axonize_gpu_price_dollars_per_hour{uuid="GPU-c"} 2.5\n'
    )
    assert prices.parse(text) == {"GPU-c": 2.5}


def update(table: Prices) -> None:
    async def once() -> None:
        async with new_session() as session:
            await table.update(session, 2.0)

    asyncio.run(once())


def test_a_failing_exporter_keeps_the_last_good_table_and_counts_each_kind(exporter_text, caplog):
    with FakeEngines() as server:
        url = server.serve("/metrics", exporter_text)
        table = Prices(url, refresh=3600)
        update(table)
        good = table.table
        assert good == prices.parse(exporter_text)
        update(table)
        assert server.hits["/metrics"] == 1, "read again only after refresh seconds"

        table = Prices(url, refresh=0.001)  # due at every update
        update(table)
        failures = [
            ("not a metric line\n", 200, "parse"),
            ("# TYPE up gauge\nup 1\n", 200, "missing"),
            ("oops", 500, "http"),
            ("oops", 500, "http"),
        ]
        with caplog.at_level(logging.WARNING, logger="axonize.sidecar.prices"):
            for body, status, _ in failures:
                server.serve("/metrics", body, status=status)
                update(table)
                assert table.table == good
        assert {k: v for k, v in table.errors.items() if v} == {"parse": 1, "missing": 1, "http": 2}
        assert len(caplog.records) == 3, "each kind logged once"
        assert "HTTP 500" in caplog.text and url in caplog.text

        server.serve("/metrics", exporter_text)
        update(table)
        assert table.table == good
    update(table)  # the server is gone
    assert table.errors["connect"] == 1 and table.table == good
    exposed = samples(exposition_text.render(table.families()).decode())["axonize_sidecar_price_fetch_errors_total"]
    assert {dict(k)["kind"]: v for k, v in exposed.items()} == {
        "connect": 1,
        "timeout": 0,
        "http": 2,
        "parse": 1,
        "missing": 1,
        "internal": 0,
    }


def test_a_request_costs_its_seconds_times_its_devices_prices():
    table = {"GPU-h100": 4.0, "GPU-l4": 2.0}
    # 1.5 s on a $4/h and a $2/h GPU: 1.5 x 6 / 3600 = $0.0025 (the rules' promtool test, trace-cost.test.yml)
    assert request_cost(1.5, ["GPU-h100", "GPU-l4", "GPU-h100"], table) == (pytest.approx(1.5 * 6 / 3600), "")
    assert request_cost(1.5, [], table) == (None, "no_gpu")
    assert request_cost(1.5, ["GPU-h100"], None) == (None, "no_prices")
    assert request_cost(1.5, ["GPU-h100", "MIG-x"], table) == (None, "unknown_uuid")


class Fixed:
    """A stand-in for :class:`Prices` with a set table (its families, the fetch errors, left out)."""

    def __init__(self, table):
        self.table = table

    def families(self) -> list:
        return []


def test_cost_histogram_and_unpriced_requests_per_model_and_customer():
    priced = Fixed({"GPU-a": 4.0, "MIG-b": 2.0})
    metrics = TraceMetrics(max_values=2, prices=priced)

    def request(i: int, seconds: float, model: str, customer: str | None = None) -> SpanRecord:
        return SpanRecord(bytes([i]) * 16, b"r" * 8, b"", "pipeline", 0, int(seconds * 1e9), model=model, customer=customer)

    on = {1: ("GPU-a", "MIG-b"), 2: ("GPU-a",), 3: ("MIG-b", "GPU-x"), 4: (), 5: ("GPU-a",), 6: ("GPU-a",)}
    records = [request(1, 1.5, "sd", "acme"), request(2, 0.25, "sd", "acme"), request(3, 2, "sd"), request(4, 2, "sd")]
    # a third model and a third customer ("acme" and "" came first) fold into other
    records += [request(5, 3, "llm", "globex"), request(6, 3, "third", "initech")]
    metrics.observe(Joiner().add(records, now=0), lambda s: on[s.trace_id[0]])
    priced.table = None  # the exporter not read yet
    metrics.observe(Joiner().add([request(7, 1, "sd", "acme")], now=0), lambda s: ("GPU-a",))

    hist = metrics.costs[("sd", "acme")]
    assert hist.count == 2 and hist.sum == pytest.approx((1.5 * 6 + 0.25 * 4) / 3600)
    assert set(metrics.costs) == {("sd", "acme"), ("llm", "other"), ("other", "other")}
    assert metrics.unpriced == {("sd", "unknown_uuid"): 1, ("sd", "no_gpu"): 1, ("sd", "no_prices"): 1}
    requests = sum(metrics.request_count.values())
    assert requests == sum(h.count for h in metrics.costs.values()) + sum(metrics.unpriced.values())

    parsed = samples(exposition_text.render(metrics.families()).decode())
    buckets = {dict(k)["le"]: v for k, v in parsed["axonize_trace_request_cost_dollars_bucket"].items() if ("model", "sd") in k}
    assert len(buckets) == len(COST_BUCKETS) + 1
    assert buckets["0.0002"] == 0 and buckets["0.0005"] == 1 and buckets["0.005"] == 2 and buckets["+Inf"] == 2
    assert parsed["axonize_trace_requests_unpriced_total"][(("model", "sd"), ("reason", "no_gpu"))] == 1


def test_without_a_price_url_no_cost_family_is_exposed():
    names = {f.name for f in TraceMetrics().families()}
    assert "axonize_trace_request_gpu_seconds_total" in names
    assert not names & {"axonize_trace_request_cost_dollars", "axonize_trace_requests_unpriced_total"}


@pytest.fixture
def silent_exporter():
    """The URL of an exporter stand-in that accepts connections (the kernel's backlog) and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/metrics"


def test_a_hanging_exporter_counts_a_price_timeout_and_the_targets_are_still_scraped(silent_exporter, caplog):
    with FakeEngines() as engines:
        target = finish(
            [parse_target(engines.serve("/vllm", (FIXTURES / "inference" / "vllm-0.33.0-v1.synthetic.prom").read_text()))], None
        )
        table = Prices(silent_exporter)
        loop = CollectionLoop(target, 1.0, 0.3, Exposition(), side_reads=(table.update,))
        with caplog.at_level(logging.WARNING):
            snapshot = loop.collect_once()
    assert table.errors["timeout"] == 1 and sum(table.errors.values()) == 1
    assert loop.loop_errors["cycle"] == 0, "the price read's own timeout, not a collection error"
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    (result,) = snapshot.results
    assert result.up and result.series


def test_no_read_starts_while_the_last_ones_parse_still_runs(exporter_text, monkeypatch):
    release, finished = threading.Event(), threading.Event()
    real = prices._decode_parse

    def stuck(*args) -> dict[str, float]:
        release.wait(30)
        finished.set()
        return real(*args)

    monkeypatch.setattr(prices, "_decode_parse", stuck)
    with FakeEngines() as server:
        url = server.serve("/metrics", exporter_text)
        table = Prices(url, refresh=0.001)

        async def once() -> None:
            async with new_session() as session:
                await table.update(session, 0.2)

        asyncio.run(once())
        assert table.errors["timeout"] == 1 and table.table is None
        asyncio.run(once())  # the first parse still runs: no second GET, no second thread
        assert server.hits["/metrics"] == 1 and table.errors["timeout"] == 1
        release.set()
        assert finished.wait(30)
        monkeypatch.setattr(prices, "_decode_parse", real)
        for _ in range(100):  # the thread's future completes just after the function returns
            asyncio.run(once())
            if table.table is not None:
                break
        assert server.hits["/metrics"] == 2 and table.table == prices.parse(exporter_text)


def test_a_table_older_than_max_age_leaves_requests_unpriced_as_stale(exporter_text, caplog):
    now = [1000.0]
    with FakeEngines() as server:
        url = server.serve("/metrics", exporter_text)
        table = Prices(url, refresh=30, max_age=900, clock=lambda: now[0])
        update(table)
        good = table.table
        assert good == prices.parse(exporter_text)
        server.serve("/metrics", "oops", status=500)
        now[0] += 900  # exactly max_age after the good read: still in use (the rule's last_over_time[15m])
        with caplog.at_level(logging.WARNING, logger="axonize.sidecar.prices"):
            update(table)
            assert table.table == good
            now[0] += 1
            update(table)
        assert table.table is prices.STALE
        assert "stale_prices" in caplog.text and "900s" in caplog.text
        uuid = next(iter(good))
        assert request_cost(1.0, [uuid], table.table) == (None, "stale_prices")
        metrics = TraceMetrics(prices=table)
        span = SpanRecord(b"t" * 16, b"r" * 8, b"", "pipeline", 0, 10**9, model="sd")
        metrics.observe(Joiner().add([span], now=0), lambda s: (uuid,))
        assert metrics.unpriced == {("sd", "stale_prices"): 1}

        server.serve("/metrics", exporter_text)
        update(table)
        assert table.table == good and table.errors["http"] == 2


@pytest.mark.parametrize(
    "flag, url", [("--traces.prices.url", "http://localhost:9947/metrics"), ("--traces.forward.url", "http://tempo:4318/v1/traces")]
)
def test_a_traces_url_without_the_traces_receiver_exits_2_naming_both_flags(capsys, flag, url):
    flags = ["--target", "http://127.0.0.1:1", "--print", flag, url]
    assert cli.main([*flags, "--traces.path", "off"]) == 2
    err = capsys.readouterr().err
    assert flag in err and "--traces.path" in err


def test_a_prices_refresh_not_shorter_than_their_max_age_exits_2(capsys):
    flags = ["--target", "http://127.0.0.1:1", "--print", "--traces.prices.url", "http://localhost:9947/metrics"]
    assert cli.main([*flags, "--traces.prices.refresh", "15m", "--traces.prices.max-age", "15m"]) == 2
    err = capsys.readouterr().err
    assert "traces.prices.refresh" in err and "traces.prices.max-age" in err


def test_max_age_defaults_to_the_bundles_stopped_exporter_grace():
    (option,) = [o for o in cli.OPTIONS if o.flag == "--traces.prices.max-age"]
    assert parse_duration(option.default) == parse_duration(CostModel.model_fields["stopped_exporter_grace"].default)
    assert prices.MAX_AGE == parse_duration(option.default), "Prices' own default (tests, callers without the CLI)"
