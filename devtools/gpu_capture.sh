#!/usr/bin/env bash
# Real captures and figures from a host with an NVIDIA GPU, for tests/fixtures/nvidia and the closing notes.
#
#   OUT=/tmp/gpu-capture bash devtools/gpu_capture.sh
#
# Run from the repository root on a GPU host that has Python 3 with PyTorch (CUDA), prometheus_client,
# aiohttp, psutil, pyyaml, jinja2 and nvidia-ml-py; pydantic and its needs may come as wheels in .whl/.
# Writes into $OUT: gpu-capture.tgz (nvidia-smi -q / -q -x idle and under load, topo -m, -L, nvlink -s,
# the exporter's and the sidecar's own output, the workload's rate log) and capture.log (everything printed).
# Steps: captures at idle; a bf16 workload (devtools/gpu_load.py) for 80 s, with the exporter (NVML backend,
# 1 s interval, per-PID series, scraped every second) running only from t=25 s to t=50 s so the workload's
# rate with and without it can be compared; the sidecar attributing a /metrics port served by the workload
# process to its GPU; tests/exporter/test_real_gpu.py; benchmarks/exporter_nvml.py --nvml real.
set -u
OUT=${OUT:-/tmp/gpu-capture}
cap=$OUT/cap
mkdir -p "$cap"
exec > >(tee "$OUT/capture.log") 2>&1
export PYTHONUNBUFFERED=1
say() { echo "== $(date -u +%T) $*"; }

if compgen -G ".whl/*.whl" >/dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site
fi
python3 -m pip install -q --no-index --no-deps --no-build-isolation -e . || { say "editable install failed"; exit 1; }
say "versions"
nvidia-smi --query-gpu=name,driver_version,memory.total,pci.bus_id,mig.mode.current --format=csv
python3 -m pip list 2>/dev/null | grep -i -E '^(nvidia-ml-py|prometheus.client|aiohttp|psutil|pydantic|torch) '
uname -r

drv=$(nvidia-smi --query-gpu=driver_version --format=csv,noheader | head -1)
name=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1 | tr 'A-Z ' 'a-z-' | sed 's/^nvidia-//')
tag="${name}_drv${drv%%.*}"
say "idle captures ($tag)"
nvidia-smi -q -x >"$cap/${tag}_nvidia-smi-q-x_idle.xml"
nvidia-smi -q >"$cap/${tag}_nvidia-smi-q_idle.txt"
nvidia-smi topo -m >"$cap/${tag}_topo-m.txt"
nvidia-smi -L >"$cap/${tag}_nvidia-smi-L.txt"
nvidia-smi nvlink -s >"$cap/${tag}_nvlink-s.txt" 2>&1
python3 -m axonize.exporter --print >"$cap/${tag}_axonize-exporter_idle.prom" || say "exporter --print failed"
python3 -m axonize.exporter --print --metrics-format dcgm >"$cap/${tag}_axonize-exporter-dcgm_idle.prom" || say "exporter dcgm --print failed"

say "workload: 80 s of bf16 products, serving a real vLLM capture on :18000"
python3 devtools/gpu_load.py 80 "$cap/workload-rate.log" tests/fixtures/inference/vllm-0.32.0-cpu-real-workload.prom 18000 &
load=$!
sleep 25
say "exporter on (t~25s)"; date +%s.%N >"$cap/exporter-window.txt"
python3 -m axonize.exporter --web.listen-address 127.0.0.1:19947 --collect.interval 1s --collect.processes >"$cap/exporter-server.log" 2>&1 &
exp=$!
for i in $(seq 1 24); do sleep 1; curl -s -o /dev/null http://127.0.0.1:19947/metrics; done
curl -s http://127.0.0.1:19947/metrics >"$cap/${tag}_axonize-exporter_load.prom"
kill $exp 2>/dev/null; wait $exp
say "exporter off (t~50s)"; date +%s.%N >>"$cap/exporter-window.txt"
sleep 15
say "load captures and the sidecar (t~65s)"
nvidia-smi -q -x >"$cap/${tag}_nvidia-smi-q-x_load.xml"
nvidia-smi -q >"$cap/${tag}_nvidia-smi-q_load.txt"
python3 -m axonize.sidecar --print --target http://127.0.0.1:18000#vllm >"$cap/${tag}_axonize-sidecar_load.prom" 2>"$cap/sidecar.err" || say "sidecar --print failed"
wait $load
say "workload done"
python3 - "$cap/workload-rate.log" "$cap/exporter-window.txt" <<'PY'
import statistics, sys
rows = [tuple(map(float, line.split())) for line in open(sys.argv[1])]
on, off = (float(x) for x in open(sys.argv[2]).read().split())
inside = [r for t, r in rows if on + 2 <= t <= off]
before = [r for t, r in rows if on - 15 <= t <= on - 1]
after = [r for t, r in rows if off + 1 <= t <= off + 14]
for label, v in (("before", before), ("exporter on", inside), ("after", after)):
    print(f"{label}: {len(v)} windows, median {statistics.median(v):.1f} TFLOP/s, mean {statistics.mean(v):.1f}")
base = statistics.median(before + after)
print(f"exporter-on median vs off median: {100 * (statistics.median(inside) / base - 1):+.2f} %")
PY

say "test_real_gpu"
python3 -m pytest -q -p no:cacheprovider tests/exporter/test_real_gpu.py 2>&1 | tail -15
say "where a collection cycle's time goes (cProfile, 50 cycles, wall time per cycle)"
python3 - <<'PY'
import cProfile, pstats, time
from axonize.exporter.collection import CollectionLoop
from axonize.exporter.nvml import NvmlSource
from axonize.http import Exposition
loop = CollectionLoop(NvmlSource(hostname="profile"), 1.0, Exposition())
loop.collect_once(); loop.collect_once()
t0, c0, p0 = time.perf_counter(), time.thread_time(), time.process_time()
for _ in range(50):
    loop.collect_once()
print(f"per cycle: wall {(time.perf_counter() - t0) * 20:.2f} ms, CPU of the process {(time.process_time() - p0) * 20:.2f} ms, of the calling thread {(time.thread_time() - c0) * 20:.2f} ms")
profile = cProfile.Profile()
profile.runcall(lambda: [loop.collect_once() for _ in range(50)])
pstats.Stats(profile).sort_stats("tottime").print_stats(8)
PY
say "benchmark --nvml real"
python3 benchmarks/exporter_nvml.py --nvml real --cycles 1000 --scrapers 50 --scrapes 40
tar czf "$OUT/gpu-capture.tgz" -C "$OUT" cap && rm -r "$cap"
say "done"
