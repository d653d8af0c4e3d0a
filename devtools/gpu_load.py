"""A GPU workload for devtools/gpu_capture.sh: bf16 matrix products that log their rate, plus a /metrics port.

    python3 devtools/gpu_load.py SECONDS RATE_LOG METRICS_FILE PORT

Runs 8192x8192x8192 bf16 products on GPU 0 for SECONDS and appends
``<unix time> <TFLOP/s>`` to RATE_LOG every 0.5 s (2*8192**3 FLOP per product,
timed with torch.cuda.synchronize around each batch), so the capture script can
compare the rate with and without the exporter running. The same process serves
METRICS_FILE (a real vLLM /metrics capture) on 127.0.0.1:PORT, so the sidecar's
port -> PID -> NVML attribution finds this GPU-holding process behind the port.
Needs PyTorch with CUDA (the device image has it; it is not a project dependency).
"""

from __future__ import annotations

import http.server
import sys
import threading
import time
from pathlib import Path

import torch


def serve(metrics: bytes, port: int) -> None:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(metrics)))
            self.end_headers()
            self.wfile.write(metrics)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()


def main() -> int:
    seconds, rate_log, metrics, port = float(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4])
    n = 8192
    a = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
    b = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
    hold = torch.empty(16 * 2**30, dtype=torch.uint8, device="cuda")  # 16 GiB held, as a KV cache would be
    serve(metrics.read_bytes(), port)
    for _ in range(20):
        a @ b
    torch.cuda.synchronize()
    end = time.time() + seconds
    with rate_log.open("a") as log:
        while time.time() < end:
            t0 = time.perf_counter()
            count = 0
            while time.perf_counter() - t0 < 0.5:
                for _ in range(20):
                    a @ b
                torch.cuda.synchronize()
                count += 20
            took = time.perf_counter() - t0
            log.write(f"{time.time():.3f} {2 * n**3 * count / took / 1e12:.1f}\n")
            log.flush()
    del hold
    return 0


if __name__ == "__main__":
    sys.exit(main())
