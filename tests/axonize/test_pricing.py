"""The price table of the bundle configuration: validation naming file, line and key, row matching, MIG shares."""

import copy
import re

import pytest
import yaml

from axonize import pricing
from axonize.config import ConfigError
from tests.conftest import NVIDIA, ROOT, SHARED

WHERE = "axonize/bundle.yml"
PACKAGED = yaml.safe_load((ROOT / "axonize" / "bundle.yml").read_text())


def doc(**prices) -> dict:
    """The packaged document with keys of ``prices`` replaced."""
    out = copy.deepcopy(PACKAGED)
    out["prices"].update(prices)
    return out


def row(**kw) -> dict:
    return {"match": "H100", "dollars_per_hour": 3.99, "source": "Lambda 8x H100 SXM", "date": "2026-09", **kw}


def test_the_packaged_table_loads_with_a_source_and_date_per_row():
    table = pricing.load()
    assert table.where == WHERE and table.currency == "USD"
    assert table.default.rule == "default" and table.default.dollars_per_hour == 0.95
    assert [r.rule for r in table.gpus] == [f"gpus[{i}]" for i in range(len(PACKAGED["prices"]["gpus"]))]
    assert all(r.source and r.date for r in (table.default, *table.gpus))
    assert table.hosts == () and table.electricity == pricing.Electricity(None, "", "")
    assert pricing.parse(PACKAGED, WHERE) == table


def test_other_top_level_keys_belong_to_the_rules_and_are_ignored():
    assert pricing.parse({**PACKAGED, "selectors": {"job": "gpu"}, "grades": [1, 2]}, WHERE) == pricing.parse(PACKAGED, WHERE)


@pytest.mark.parametrize(
    "document, message",
    [
        (doc(gpus=[row(), row(), row(dollars_per_hour="cheap")]), "prices.gpus[2].dollars_per_hour: must be a number >= 0, got 'cheap'"),
        (doc(gpus=[row(dollars_per_hour=-1)]), "prices.gpus[0].dollars_per_hour: must be a number >= 0"),
        (doc(gpus=[row(dollars_per_hour=True)]), "prices.gpus[0].dollars_per_hour: must be a number >= 0"),
        (doc(gpus=[row(dollars_per_hour=float("nan"))]), "prices.gpus[0].dollars_per_hour: must be a number >= 0"),
        (doc(gpus=[row(match="H100(")]), "prices.gpus[0].match: not a valid regular expression"),
        (doc(gpus=[row(match="")]), "prices.gpus[0].match: must be a regular expression"),
        (doc(gpus=[{k: v for k, v in row().items() if k != "match"}]), "prices.gpus[0].match: missing"),
        (doc(gpus=[row(source="")]), "prices.gpus[0].source: must be a non-empty string"),
        (doc(gpus=[{k: v for k, v in row().items() if k != "date"}]), "prices.gpus[0].date: missing"),
        (
            doc(gpus=[row(dollar_per_hour=1)]),
            "prices.gpus[0].dollar_per_hour: unknown key; known keys: match, dollars_per_hour, source, date",
        ),
        (doc(gpus=["H100"]), "prices.gpus[0]: must be a mapping, got 'H100'"),
        (doc(gpus={"match": "H100"}), "prices.gpus: must be a list"),
        (doc(hosts=[row(hostname="gpu-node-[")]), "prices.hosts[0].hostname: not a valid regular expression"),
        (doc(hosts=[row()]), "prices.hosts[0].hostname: missing"),
        (doc(default={"dollars_per_hour": 0.95, "source": "x"}), "prices.default.date: missing"),
        (doc(default={"match": "H100", "dollars_per_hour": 0.95, "source": "x", "date": "2026"}), "prices.default.match: unknown key"),
        (doc(currency="EUR"), "prices.currency: only USD is supported"),
        ({k: v for k, v in PACKAGED.items() if k != "prices"}, "prices: missing"),
        ({**PACKAGED, "prices": None}, "prices: must be a mapping, got nothing"),
        (
            {**PACKAGED, "electricity": {"dollars_per_kwh": "0.12"}},
            "electricity.dollars_per_kwh: must be a number >= 0 or null, got '0.12'",
        ),
        (
            {**PACKAGED, "electricity": {"dollars_per_kwh": 0.12, "source": "", "date": "2026-11"}},
            "electricity.source: must be a non-empty string",
        ),
        ({**PACKAGED, "electricity": {"dollars_per_kwh": None, "cost": 1}}, "electricity.cost: unknown key"),
        (["prices"], "top level: must be a mapping"),
    ],
)
def test_errors_name_the_file_and_the_key(document, message):
    with pytest.raises(ConfigError) as err:
        pricing.parse(document, WHERE)
    assert str(err.value).startswith(f"{WHERE}: ") and message in str(err.value)


def test_dates_yaml_reads_as_dates_stay_text_and_electricity_needs_a_source_only_with_a_price():
    table = pricing.parse(
        yaml.safe_load(
            "prices:\n  default: {dollars_per_hour: 1, source: s, date: 2026-11-01}\n"
            "electricity: {dollars_per_kwh: 0.12, source: utility bill, date: 2026-10}\n"
        ),
        "x.yml",
    )
    assert table.default.date == "2026-11-01" and table.default.dollars_per_hour == 1.0 and table.gpus == ()
    assert table.electricity == pricing.Electricity(0.12, "utility bill", "2026-10")


def test_load_names_the_file_and_the_yaml_line(tmp_path):
    with pytest.raises(ConfigError, match="nope.yml: cannot read"):
        pricing.load(str(tmp_path / "nope.yml"))
    bad = tmp_path / "bad.yml"
    bad.write_text("prices:\n  gpus: [1, 2\n")
    with pytest.raises(ConfigError, match=re.escape(str(bad)) + r":\d+: not valid YAML"):
        pricing.load(str(bad))
    bad.write_text(yaml.safe_dump(doc(gpus=[row(dollars_per_hour=-2)])))
    with pytest.raises(
        ConfigError, match="^" + re.escape(f"{bad}:") + r"\d+: " + re.escape("prices.gpus[0].dollars_per_hour: must be a number >= 0")
    ):
        pricing.load(str(bad))


def test_the_matching_gpu_row_applies_case_insensitively_else_the_default():
    table = pricing.load()
    assert pricing.price_for(table, "", "NVIDIA H100 80GB HBM3")[0] == 6.88
    assert pricing.price_for(table, "", "nvidia h200")[1].rule == "gpus[0]"
    assert pricing.price_for(table, "", "NVIDIA A100-SXM4-80GB")[0] == 3.43
    assert pricing.price_for(table, "", "NVIDIA A100-SXM4-40GB")[0] == 2.745  # its own row now, no longer the default
    assert pricing.price_for(table, "", "NVIDIA L4")[0] == 0.80
    assert pricing.price_for(table, "", "NVIDIA L40S")[0] == 1.861  # not the '\bL4\b' row
    dollars, used = pricing.price_for(table, "", "NVIDIA RTX 4000 SFF Ada Generation")
    assert (dollars, used.rule, used.date) == (0.95, "default", "2026-11")
    assert pricing.price_for(table, "", "")[1].rule == "default"  # a GPU never read


# Each known model name -> the packaged row meant for it ($ per GPU-hour, the product the row's source names).
# `None`: no row, the default applies.
INTENDED = {
    "NVIDIA H100 80GB HBM3": (6.88, "p5.48xlarge"),  # H100 SXM5
    "NVIDIA H100 NVL": (6.98, "H100 NVL"),  # not the SXM row
    "NVIDIA H100 PCIe": (3.29, "H100 PCIe"),  # not the SXM row
    "NVIDIA H200": (7.91, "p5en.48xlarge"),
    "NVIDIA H200 NVL": (7.91, "H200 NVL"),  # its own row, priced as the SXM one
    "NVIDIA GH200 480GB": (2.29, "GH200"),  # not the H200 row
    "NVIDIA GH200 144G HBM3e": (2.29, "GH200"),
    "NVIDIA H20": (0.95, "H20"),  # its own row, at the default's basis
    "NVIDIA B200": (14.24, "p6-b200.48xlarge"),
    "NVIDIA GB200": None,  # no row yet; must not take the B200 row
    "NVIDIA A100-SXM4-40GB": (2.745, "p4d.24xlarge"),
    "NVIDIA A100-PCIE-40GB": (2.745, "p4d.24xlarge"),
    "A100-PCIE-40GB": (2.745, "p4d.24xlarge"),
    "A100-SXM4-40GB": (2.745, "p4d.24xlarge"),
    "NVIDIA A100-SXM4-80GB": (3.43, "p4de.24xlarge"),
    "NVIDIA A100 80GB PCIe": (3.43, "p4de.24xlarge"),
    "NVIDIA A10G": (1.006, "g5.xlarge"),
    "NVIDIA A10": None,  # not the A10G row
    "NVIDIA A30": None,
    "NVIDIA L40": (1.861, "L40"),  # not the L40S row's source
    "NVIDIA L40S": (1.861, "g6e.xlarge"),
    "NVIDIA L4": (0.80, "g6.xlarge"),
    "NVIDIA RTX 4000 SFF Ada Generation": None,
}


def test_every_known_model_name_has_its_intended_row():
    assert set(INTENDED) == set(pricing.MODEL_NAMES)


@pytest.mark.parametrize("name", pricing.MODEL_NAMES)
def test_a_known_model_matches_exactly_its_intended_row(name):
    table = pricing.load()
    matching = [row for row in table.gpus if row.applies_to(name)]
    if INTENDED[name] is None:
        assert matching == [] and pricing.price_for(table, "", name)[1].rule == "default"
        return
    dollars, product = INTENDED[name]
    [row] = matching  # exactly one row: the order of the rows decides nothing
    assert row.dollars_per_hour == dollars and product in row.source, row


def captured_model_names() -> set[str]:
    """Model names in the real captures: ``Product Name : X`` (-q), ``<product_name>X`` (-q -x), ``GPU 0: X (UUID`` (-L)."""
    names = set()
    for folder in (NVIDIA, SHARED / "nvidia"):
        for path in folder.rglob("*") if folder.is_dir() else ():
            if path.is_file() and path.suffix in (".txt", ".xml"):
                text = path.read_text(errors="replace")
                names |= {m.strip() for m in re.findall(r"Product Name\s*: (.+)", text)}
                names |= {m.strip() for m in re.findall(r"<product_name>([^<]+)<", text)}
                names |= {m.strip() for m in re.findall(r"^GPU \d+: (.+?) \(UUID", text, re.MULTILINE)}
    return names


def test_every_model_name_in_the_real_captures_is_a_known_one():
    names = captured_model_names()
    assert {"NVIDIA H100 80GB HBM3", "NVIDIA H200", "NVIDIA A100-SXM4-80GB", "NVIDIA L40S", "NVIDIA A10G"} <= names
    assert names <= set(pricing.MODEL_NAMES)


def test_the_row_order_decides_no_known_price():
    forward = pricing.load()
    backward = pricing.parse(doc(gpus=list(reversed(PACKAGED["prices"]["gpus"]))), WHERE)
    for name in pricing.MODEL_NAMES:
        (a, row_a), (b, row_b) = pricing.price_for(forward, "", name), pricing.price_for(backward, "", name)
        assert (a, row_a.source) == (b, row_b.source), name


@pytest.mark.parametrize(
    "first, second, model",
    [
        ("H200", "\\bGH200\\b", "NVIDIA GH200 480GB"),  # the old H200 row took the GH200
        ("H100", "\\bH100\\b.*\\bNVL\\b", "NVIDIA H100 NVL"),  # the old H100 row took the NVL at the SXM price
        ("\\bL4", "\\bL40S\\b", "NVIDIA L40S"),
        ("B200", "\\bB200\\b", "NVIDIA B200"),  # a duplicate
    ],
)
def test_two_rows_matching_one_known_model_are_refused_naming_both(first, second, model, tmp_path):
    rows = [row(match=first, source="first"), row(match=second, source="second")]
    with pytest.raises(ConfigError) as err:
        pricing.parse(doc(gpus=rows), WHERE)
    message = str(err.value)
    assert message.startswith(f"{WHERE}: prices.gpus: gpus[0] (match '{first}') and gpus[1] (match '{second}') both match")
    assert repr(model) in message and "the row order must not decide a price" in message
    path = tmp_path / "prices.yml"  # from a file: the line of `gpus:`
    path.write_text(yaml.safe_dump(doc(gpus=rows), sort_keys=False))
    line = next(i for i, text in enumerate(path.read_text().splitlines(), 1) if text.strip() == "gpus:")
    with pytest.raises(ConfigError, match="^" + re.escape(f"{path}:{line}: prices.gpus: gpus[0]")):
        pricing.load(str(path))


def test_overlaps_lists_every_pair_and_rows_matching_no_known_model_are_free():
    patterns = [re.compile(p, re.IGNORECASE) for p in ("H200", "H100", "GH200", "RTX PRO 6000")]
    found = pricing.overlaps(patterns)
    assert (0, 2, "NVIDIA GH200 480GB") in found and (0, 2, "NVIDIA GH200 144G HBM3e") in found
    assert {(i, j) for i, j, _ in found} == {(0, 2)}  # H100 overlaps nothing here; the RTX PRO row matches no known name
    assert pricing.overlaps([re.compile(r"\bH200\b"), re.compile(r"\bGH200\b")]) == []


def test_host_rows_override_per_host_and_match_narrows_them():
    hosts = [
        row(hostname=r"gpu-node-\d+", dollars_per_hour=3.99),  # H100s of the reserved nodes
        {k: v for k, v in row(hostname="onprem-.*", dollars_per_hour=1.5, source="amortised").items() if k != "match"},
    ]
    table = pricing.parse(doc(hosts=hosts), WHERE)
    dollars, used = pricing.price_for(table, "gpu-node-7", "NVIDIA H100 80GB HBM3")
    assert (dollars, used.rule, used.source) == (3.99, "hosts[0]", "Lambda 8x H100 SXM")
    assert pricing.price_for(table, "GPU-NODE-7", "NVIDIA H100 80GB HBM3")[1].rule == "hosts[0]"  # host names are case-insensitive
    assert pricing.price_for(table, "gpu-node-7", "NVIDIA H200")[1].rule == "gpus[0]"  # match narrows the host row
    assert pricing.price_for(table, "gpu-node-7.example", "NVIDIA H100 80GB HBM3")[1].rule == "gpus[1]"  # hostname must match in full
    assert pricing.price_for(table, "onprem-3", "NVIDIA H200")[:1] == (1.5,)  # no match: every GPU of the host
    assert pricing.price_for(table, "onprem-3", "mystery")[1].rule == "hosts[1]"


@pytest.mark.parametrize(
    "profile, model, share",
    [
        ("1g.10gb", "NVIDIA H100 80GB HBM3", 1 / 7),
        ("3g.40gb", "NVIDIA H100 80GB HBM3", 3 / 7),
        ("7g.80gb", "NVIDIA H100 80GB HBM3", 1.0),
        ("1c.3g.71gb", "NVIDIA H200", 3 / 7),  # a compute instance costs its GPU instance's slices
        ("2c.3g.71gb", "NVIDIA H200", 3 / 7),
        ("1g.10gb+me", "NVIDIA A100-SXM4-80GB", 1 / 7),
        ("4g.40gb", "NVIDIA A100-SXM4-40GB", 4 / 7),
        ("1g.6gb", "NVIDIA A30", 1 / 4),
        ("2g.12gb", "NVIDIA A30", 2 / 4),
        ("1g.12gb", "NVIDIA GH200 480GB", 1 / 7),
        ("1g.23gb", "NVIDIA B200", 1 / 7),
        ("1g.12gb", "NVIDIA H20", 1 / 7),
    ],
)
def test_mig_share_is_compute_slices_over_the_gpus(profile, model, share):
    assert pricing.mig_share(profile, model) == pytest.approx(share)


def test_mig_share_falls_back_to_multiprocessors_else_none():
    assert pricing.mig_share(None, "NVIDIA A100-SXM4-80GB") is None
    assert pricing.mig_share("garbage", "NVIDIA H100 80GB HBM3") is None
    assert pricing.mig_share("1g.24gb", "NVIDIA RTX PRO 6000 Blackwell") is None  # slice count not in the table
    assert pricing.mig_share("8g.80gb", "NVIDIA H100 80GB HBM3") is None  # more slices than the GPU has
    assert pricing.mig_share(None, "NVIDIA A100-SXM4-80GB", multiprocessors=14, gpu_multiprocessors=98) == pytest.approx(1 / 7)
    assert pricing.mig_share("1g.24gb", "mystery", multiprocessors=16, gpu_multiprocessors=132) == pytest.approx(16 / 132)
    assert pricing.mig_share(None, "mystery", multiprocessors=16) is None
    assert pricing.mig_share(None, "mystery", multiprocessors=200, gpu_multiprocessors=132) is None
    assert pricing.gpu_slices("NVIDIA A30") == 4 and pricing.gpu_slices("NVIDIA L40S") is None
    assert pricing.profile_slices("MIG 2g.20gb") == 2 and pricing.profile_slices(None) is None
