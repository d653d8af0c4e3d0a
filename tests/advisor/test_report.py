"""The HTML and PDF report (advisor/report): rendered from a realistic 8x H200 HGX report built here from the
model's dataclasses, opened in the real headless Chromium and converted back with poppler (pdftoppm, pdftotext).

The report: GPUs 0-3 on NUMA node 0 and 4-7 on node 1, NVLink NV18 between every pair (HGX NVSwitch); three
training jobs and two inference servers placed as in the InfraLens demo (a job split across the NUMA nodes, a
job whose CPUs are on the other socket, inference servers alone on whole GPUs), the findings that says so and
a plan that regroups the job on node 0 and packs the inference servers onto MIG instances of one GPU.
"""

from __future__ import annotations

import html.parser
import re
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from axonize import bundle
from axonize.advisor.model import Evidence, Finding, Gpu, Host, Link, NumaNode, Placement, Plan, Report, Score, Step, Workload
from axonize.advisor.report import charts
from axonize.advisor.report import html as report_html
from axonize.advisor.report import pdf as report_pdf

CHROMIUM = "/usr/bin/chromium"
GB = 1000**3
H200_BYTES = 143771 * 1024**2  # nvidia-smi -q: FB Memory Usage Total 143771 MiB
NODE0 = frozenset(range(56)) | frozenset(range(112, 168))  # 2 x Xeon 8480+ (56 cores, SMT): lscpu's NUMA node0 CPU(s)
NODE1 = frozenset(range(56, 112)) | frozenset(range(168, 224))
PRICE = 7.91  # $/GPU-hour, the packaged bundle's H200 row (AWS p5en.48xlarge / 8)


def h200_host(inference_name: str = "vllm-chat") -> Host:
    util = [0.82, 0.04, 0.91, 0.90, 0.88, 0.89, 0.71, 0.12]
    sm = [0.61, 0.02, 0.74, 0.73, 0.70, 0.72, 0.55, 0.06]
    used = [71, 6, 128, 127, 126, 128, 60, 129]
    gpus = tuple(
        Gpu(
            index=i,
            uuid=f"GPU-5e1c7a0{i}-3b2d-4c8e-9f10-a1b2c3d4e5f{i}",
            model="NVIDIA H200",
            memory_total_bytes=H200_BYTES,
            memory_used_bytes=used[i] * GB,
            utilization_ratio=util[i],
            sm_active_ratio=sm[i],
            numa_node=0 if i < 4 else 1,
            cpu_affinity=NODE0 if i < 4 else NODE1,
            pcie_generation=5,
            pcie_max_generation=5,
            pcie_width_lanes=8 if i == 3 else 16,
            pcie_max_width_lanes=16,
            power_watts=610.0 if util[i] > 0.5 else 120.0,
            power_limit_watts=700.0,
            temperature_celsius=61.0,
            price_dollars_per_hour=PRICE,
        )
        for i in range(8)
    )
    links = tuple(Link(a, b, "NV18", 18) for a in range(8) for b in range(a + 1, 8))
    workloads = (
        Workload(
            "train-llama-70b",
            "training",
            gpus=(2, 3, 4, 5),
            cpus=frozenset(range(32)),
            memory_bytes=509 * GB,
            sm_active_ratio=0.72,
            container="ml/train-llama-70b",
        ),
        Workload("finetune-mistral-7b", "training", gpus=(6,), cpus=frozenset(range(16)), memory_bytes=60 * GB, sm_active_ratio=0.55),
        Workload("train-bert-large", "training", gpus=(0,), cpus=frozenset(range(32, 48)), memory_bytes=71 * GB, sm_active_ratio=0.61),
        Workload(
            inference_name,
            "inference",
            gpus=(7,),
            memory_bytes=129 * GB,
            sm_active_ratio=0.06,
            model="meta-llama/Llama-3.1-8B-Instruct",
            engine="vllm",
            kv_cache_usage_ratio=0.08,
            source="sidecar",
        ),
        Workload(
            "tei-embed",
            "inference",
            gpus=(1,),
            memory_bytes=6 * GB,
            sm_active_ratio=0.02,
            model="BAAI/bge-large-en-v1.5",
            engine="tei",
            source="sidecar",
        ),
    )
    return Host(
        hostname="gpu-h200-01",
        gpus=gpus,
        links=links,
        numa_nodes=(NumaNode(0, NODE0, 0.41), NumaNode(1, NODE1, 0.12)),
        workloads=workloads,
        sources=(
            "scenarios/h200x8/nvidia-smi-q.txt (nvidia-smi -q, driver 570.133.20)",
            "scenarios/h200x8/topo-m.txt (nvidia-smi topo -m)",
            "scenarios/h200x8/workloads.yml (3 training + 2 inference)",
        ),
    )


def _score(per_gpu, components=()) -> Score:
    mean = sum(s for _, s in per_gpu) / len(per_gpu)
    return Score(score=mean, grade=charts.grade_of(mean, bundle.load().grades), per_gpu=tuple(per_gpu), components=components)


def h200_report(inference_name: str = "vllm-chat", narrative: str | None = None, narrative_error: str | None = None) -> Report:
    host = h200_host(inference_name)
    gpu_term = [0.77, 0.03, 0.93, 0.92, 0.90, 0.92, 0.64, 0.13]
    numa_term = [0.5 if g in (4, 5, 6) else 1.0 for g in range(8)]
    io_term = [0.5 if g == 3 else 1.0 for g in range(8)]
    components = tuple((g, name, terms[g]) for g in range(8) for name, terms in (("gpu", gpu_term), ("numa", numa_term), ("io", io_term)))
    per_gpu = tuple((g, 100 * (0.6 * gpu_term[g] + 0.2 * numa_term[g] + 0.2 * io_term[g])) for g in range(8))
    before = _score(per_gpu, components)
    # GPU 7 freed (released, so out of the mean); GPU 5 holds the two MIG instances
    after = _score(((0, 93.0), (1, 92.0), (2, 93.0), (3, 84.0), (4, 88.0), (5, 62.0), (6, 81.0)))
    findings = (
        Finding(
            kind="job_split_numa",
            severity="critical",
            title="train-llama-70b is split across both CPU sockets",
            explanation="Its four GPUs sit two on each NUMA node (2, 3 on node 0; 4, 5 on node 1), so half of its gradient traffic and data loading crosses the link between the sockets.",
            gpus=(2, 3, 4, 5),
            workloads=("train-llama-70b",),
            evidence=(
                Evidence("GPU 2 NUMA node", "0", 'axonize_gpu_numa_node{gpu="2"}'),
                Evidence("GPU 4 NUMA node", "1", 'axonize_gpu_numa_node{gpu="4"}'),
                Evidence("train-llama-70b CPUs", "0-31 (node 0)", "workloads.yml:4"),
            ),
            impact="data loading and host-device copies for GPUs 4 and 5 up to ~20 % slower",
            dollars_per_month=2 * PRICE * 730 * 0.2,
        ),
        Finding(
            kind="numa_mismatch",
            severity="warning",
            title="finetune-mistral-7b runs on CPUs of the other socket",
            explanation="Its GPU 6 is attached to NUMA node 1 but its CPUs (0-15) are on node 0: every batch is copied through the inter-socket link.",
            gpus=(6,),
            workloads=("finetune-mistral-7b",),
            evidence=(
                Evidence("GPU 6 CPU affinity", "56-111,168-223", "nvidia-smi topo -m: GPU6 CPU Affinity"),
                Evidence("finetune-mistral-7b CPUs", "0-15", "workloads.yml:9"),
            ),
            impact="host-to-GPU copies slower; input pipeline stalls",
            dollars_per_month=PRICE * 730 * 0.1,
        ),
        Finding(
            kind="mig_unused",
            severity="warning",
            title="vLLM server alone on a whole H200 while using 6 % of it",
            explanation="The Llama-3.1-8B server holds GPU 7 but its SMs are active 6 % of the time and its KV cache is 8 % full; a 3g.71gb MIG instance gives it enough memory and compute.",
            gpus=(7,),
            workloads=(inference_name,),
            evidence=(
                Evidence("GPU 7 SM active", "6 %", 'avg_over_time(axonize_gpu_sm_active_ratio{gpu="7"}[1h])'),
                Evidence("KV cache usage", "8 %", "vllm:kv_cache_usage_perc"),
            ),
            impact="a whole GPU's cost for a small fraction of its work",
            dollars_per_month=PRICE * 730 * 4 / 7,
        ),
        Finding(
            kind="pcie_degraded",
            severity="info",
            title="GPU 3's PCIe link runs at x8 of x16",
            explanation="The link trained to half its width; host-device copies for GPU 3 get half the bandwidth. Reseat the board or check the riser.",
            gpus=(3,),
            evidence=(Evidence("PCIe width", "x8 of x16", "nvidia-smi -q: GPU 00000000:3B:00.0 Link Width Current"),),
            impact="host-device transfer bandwidth halved",
        ),
    )
    plan = Plan(
        placements=(
            Placement("train-llama-70b", gpus=(0, 1, 2, 3), numa_node=0, cpus=frozenset(range(32))),
            Placement("train-bert-large", gpus=(4,), numa_node=1, cpus=frozenset(range(56, 72))),
            Placement("finetune-mistral-7b", gpus=(6,), numa_node=1, cpus=frozenset(range(72, 88))),
            Placement(inference_name, gpus=(5,), mig_profile="3g.71gb", numa_node=1),
            Placement("tei-embed", gpus=(5,), mig_profile="1g.18gb", numa_node=1),
        ),
        steps=(
            Step(
                "Move train-llama-70b onto the NVLink group of NUMA node 0 and pin its CPUs there.",
                "CUDA_VISIBLE_DEVICES=0,1,2,3 numactl --cpunodebind=0 --membind=0 torchrun --nproc-per-node 4 train.py",
            ),
            Step("Pin finetune-mistral-7b to the CPUs of GPU 6's node.", "CUDA_VISIBLE_DEVICES=6 taskset -c 72-87 python finetune.py"),
            Step(
                "Enable MIG on GPU 5 and create the two instances.",
                "sudo nvidia-smi -i 5 -mig 1 && sudo nvidia-smi mig -i 5 -cgi 3g.71gb,1g.18gb -C",
            ),
            Step(
                "On Kubernetes, let the kubelet align CPUs and GPUs.",
                "--topology-manager-policy=single-numa-node --cpu-manager-policy=static",
            ),
        ),
        before=before,
        after=after,
        gpus_freed=(7,),
        dollars_per_month_saved=PRICE * 730,
        out_of_scope=("Other hosts: the plan moves workloads within this host only.", "Network fabric (InfiniBand/RoCE) between hosts."),
    )
    return Report(host=host, score=before, findings=findings, plan=plan, narrative=narrative, narrative_error=narrative_error)


# --- HTML ----------------------------------------------------------------------------------------------


class _Page(html.parser.HTMLParser):
    """The elements, URL-bearing attributes and text of a page, as a browser's parser sees them."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.urls: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.urls += [v for k, v in attrs if k in ("src", "href", "xlink:href", "action") and v]

    def handle_data(self, data):
        self.text.append(data)


def _parse(text: str) -> _Page:
    page = _Page()
    page.feed(text)
    return page


def test_html_is_self_contained_and_holds_every_section():
    report = h200_report()
    text = report_html.render_html(report)
    page = _parse(text)
    assert "script" not in page.tags and "link" not in page.tags
    assert all(u.startswith("#") for u in page.urls), page.urls
    assert not re.search(r"url\((?!#)", text), "a CSS url() loads something"
    assert page.tags.count("svg") == 4  # score, memory/utilization, topology, cost
    ids = re.findall(r'\bid="([^"]+)"', text)
    assert len(ids) == len(set(ids)), "the charts' element ids collide"
    refs = [a or b for a, b in re.findall(r'url\(#([^)]+)\)|href="#([^"]+)"', text)]
    assert refs and set(refs) <= set(ids), "a chart refers to an element that is not on the page"
    words = " ".join(" ".join(page.text).split())
    for expected in (
        "gpu-h200-01",
        "Summary",
        "Findings",
        "The plan",
        "Inputs and method",
        *report.host.sources,
        f"${report.plan.dollars_per_month_saved:,.0f} / month",
    ):
        assert expected in words, expected
    assert "Machine-generated" not in words  # no narrative asked for: no section


def test_a_bare_host_without_plan_prices_or_topology_still_renders(tmp_path):
    """An nvidia-smi dump alone: no NUMA, links, workloads, prices, score components or plan."""
    gpu = Gpu(index=0, uuid="GPU-0", model="NVIDIA L40S", memory_total_bytes=46068 * 1024**2)
    report = Report(host=Host(hostname="l40s-lab", gpus=(gpu,)), score=Score(score=0.0, grade="F"), findings=(), plan=None)
    page = _parse(report_html.render_html(report))
    words = " ".join(" ".join(page.text).split())
    assert page.tags.count("svg") == 2  # memory/utilization and topology (nothing to score per GPU, nothing priced)
    for expected in ("l40s-lab", "No placement change is proposed", "No issue found", "unknown (no topology in the inputs)"):
        assert expected in words, expected
    report_pdf.write_pdf(report, tmp_path / "bare.pdf")
    assert (tmp_path / "bare.pdf").read_bytes().startswith(b"%PDF-")


def test_narrative_is_labelled_and_its_absence_explained():
    page = " ".join(_parse(report_html.render_html(h200_report(narrative="GPU 4 and 5 are far from\nthe CPUs.\n\nMove them."))).text)
    assert "Machine-generated explanation" in page and "may be wrong" in page and "Move them." in page
    page = " ".join(_parse(report_html.render_html(h200_report(narrative_error="the endpoint timed out after 30 s"))).text)
    assert "requested but is absent: the endpoint timed out after 30 s" in page


def test_workload_name_with_markup_renders_as_text():
    name = '<script>alert("x")</script>&$HOME'
    text = report_html.render_html(h200_report(inference_name=name))
    page = _parse(text)
    assert "script" not in page.tags
    assert name in "".join(page.text)
    legend = _parse(charts.topology_svg(h200_report(inference_name=name)))  # matplotlib writes text escaped, `$` literal
    assert "script" not in legend.tags and name in "".join(legend.text)


def test_write_html_names_a_path_it_cannot_write(tmp_path):
    with pytest.raises(report_html.ReportWriteError, match=re.escape(str(tmp_path / "missing" / "r.html"))):
        report_html.write_html(h200_report(), tmp_path / "missing" / "r.html")


# --- Chromium ------------------------------------------------------------------------------------------

needs_chromium = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is absent (make report-test-tools installs Debian's chromium)"
)


def _chromium(page: Path, tmp_path: Path) -> tuple[str, Path]:
    """Open ``page`` in headless Chromium, take a 1280x2400 screenshot; its log (console messages at INFO) and the PNG."""
    png = tmp_path / f"{page.stem}.png"
    flags = "--headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking --disable-component-update --disable-sync"
    cmd = [
        CHROMIUM,
        *flags.split(),
        f"--user-data-dir={tmp_path / 'profile'}",
        "--enable-logging=stderr",
        "--v=0",
        "--hide-scrollbars",
        "--window-size=1280,2400",
        f"--screenshot={png}",
        page.as_uri(),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stderr, png


def _console(log: str) -> list[str]:
    """The page's console messages (Chromium logs each as ``...:CONSOLE...] "message", source: ...``)."""
    return [line for line in log.splitlines() if ":CONSOLE" in line or "Uncaught" in line]


def _colours(png: Path) -> int:
    from PIL import Image

    with Image.open(png) as image:
        return len(image.convert("RGB").getcolors(maxcolors=1 << 20) or ())


def _body_ink(png: Path) -> float:
    """Share (0-1) of a PDF page's pixels darker than light grey, between the running header and the footer."""
    from PIL import Image

    with Image.open(png) as image:
        w, h = image.size
        hist = image.convert("L").crop((0, int(h * 0.06), w, int(h * 0.94))).histogram()
    return sum(hist[:200]) / sum(hist)


@needs_chromium
def test_console_check_catches_a_script_error_and_a_blocked_load(tmp_path):
    """The harness itself: a page that throws, and the report's policy refusing an external image, are seen."""
    broken = tmp_path / "broken.html"
    broken.write_text('<!DOCTYPE html><p>x</p><script>throw new Error("deliberate")</script>')
    log, _ = _chromium(broken, tmp_path)
    assert any("deliberate" in line for line in _console(log)), log[-2000:]
    external = tmp_path / "external.html"
    external.write_text(report_html.render_html(h200_report()).replace("<body>", '<body><img src="https://example.com/x.png">', 1))
    log, _ = _chromium(external, tmp_path)
    assert any("example.com" in line for line in _console(log)), log[-2000:]


@needs_chromium
def test_chromium_renders_the_report_without_console_messages(tmp_path):
    page = tmp_path / "report.html"
    page.write_text(report_html.render_html(h200_report(inference_name="<script>alert(1)</script>")), encoding="utf-8")
    log, png = _chromium(page, tmp_path)
    assert _console(log) == []
    assert png.stat().st_size > 0
    assert _colours(png) > 500  # text, grade colours, charts; a blank or failed page has a handful


# --- PDF -----------------------------------------------------------------------------------------------

needs_poppler = pytest.mark.skipif(
    not (shutil.which("pdftoppm") and shutil.which("pdftotext")), reason="poppler-utils is absent (make report-test-tools installs it)"
)


@pytest.fixture(scope="module")
def pdf(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("pdf") / "report.pdf"
    report_pdf.write_pdf(h200_report(narrative="GPUs 4 and 5 are on the wrong socket for this job."), path)
    return path


@needs_poppler
def test_pdf_pages_are_a4_and_none_is_blank(pdf, tmp_path):
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    pages = int(re.search(r"^Pages:\s+(\d+)", info, re.M).group(1))
    # the summary; the charts, findings, plan, narrative, inputs and method each from a new page (some run over)
    assert pages >= 6, info
    assert re.search(r"Page size:\s+595\.\d+ x 841\.\d+ pts \(A4\)", info), info
    subprocess.run(["pdftoppm", "-r", "40", "-png", str(pdf), str(tmp_path / "page")], check=True, timeout=120)
    pngs = sorted(tmp_path.glob("page-*.png"))
    assert len(pngs) == pages
    for png in pngs:
        # a page holding only the running header and page number has well under 0.5 % ink in its body
        assert _body_ink(png) > 0.005, png.name


@needs_poppler
def test_pdf_text_has_host_grade_findings_and_commands(pdf):
    report = h200_report()
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    flat = " ".join(text.split())
    assert report.host.hostname in flat
    assert f"Grade {report.score.grade}" in flat
    for f in report.findings:
        assert " ".join(f.title.split()) in flat, f.title
    for step in report.plan.steps:
        # a long command wraps in the PDF: compare without whitespace
        assert re.sub(r"\s", "", step.command) in re.sub(r"\s", "", text), step.command
    pages = text.count("\f")
    assert f"Page {pages} of {pages}" in flat


def test_write_pdf_names_a_path_it_cannot_write(tmp_path):
    with pytest.raises(report_html.ReportWriteError, match="folder .* does not exist"):
        report_pdf.write_pdf(h200_report(), tmp_path / "missing" / "r.pdf")
    folder = tmp_path / "a-folder.pdf"
    folder.mkdir()
    with pytest.raises(report_html.ReportWriteError, match=re.escape(str(folder))):
        report_pdf.write_pdf(replace(h200_report(), plan=None), folder)
