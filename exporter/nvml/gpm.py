"""GPU Performance Monitoring (GPM, Hopper and later): SM, tensor and DRAM activity.

NVML's ``utilization.gpu`` says whether any kernel ran; GPM says how busy the
SMs were. Each cycle takes one GPM sample per GPU (``nvmlGpmSampleGet``) or
per MIG GPU instance (``nvmlGpmMigSampleGet``) and computes the metrics over
the interval since the previous sample (``nvmlGpmMetricsGet``; percent ->
ratio). The first cycle has no previous sample, so activity appears from the
second cycle on. For a whole GPU the same request also gives its PCIe TX/RX
rates over the interval (:data:`RATES`), which replaces NVML's 20 ms
``nvmlDeviceGetPcieThroughput`` sample. Source: nvml.h "GPM" section; metric
ids ``NVML_GPM_METRIC_*``.
"""

from __future__ import annotations

from axonize.nvml import Caller

#: snapshot activity kind -> NVML_GPM_METRIC_* id
METRICS = {
    "graphics_engine_active": 1,  # GRAPHICS_UTIL
    "sm_active": 2,  # SM_UTIL
    "sm_occupancy": 3,  # SM_OCCUPANCY
    "tensor_active": 5,  # ANY_TENSOR_UTIL
    "dram_active": 10,  # DRAM_BW_UTIL
    "fp64_active": 11,
    "fp32_active": 12,
    "fp16_active": 13,
}
#: whole-GPU rates: snapshot field -> (NVML_GPM_METRIC_* id, bytes per unit); nvml.h gives PCIE_TX/RX_PER_SEC in MiB/s
RATES = {"pcie_tx_bytes_per_second": (20, 2**20), "pcie_rx_bytes_per_second": (21, 2**20)}
NVML_SUCCESS = 0


class GpmSampler:
    """Keeps the previous GPM sample per (GPU uuid, GPU instance id or None)."""

    def __init__(self) -> None:
        self._previous: dict[tuple[str, int | None], object] = {}
        self._supported: dict[str, bool] = {}

    def supported(self, call: Caller, uuid: str, handle) -> bool:
        if uuid not in self._supported:
            support = call(call.nvml.nvmlGpmQueryDeviceSupport, handle)
            self._supported[uuid] = bool(support is not None and support.isSupportedDevice)
        return self._supported[uuid]

    def activity(self, call: Caller, uuid: str, handle, gpu_instance_id: int | None = None) -> dict[str, float]:
        """Activity ratios over the interval since the last call for the same key; {} on the first call.

        For a whole GPU (``gpu_instance_id`` None) the result also holds the
        :data:`RATES` fields in bytes/s where GPM answered them; the caller pops them.
        """
        nvml = call.nvml
        key = (uuid, gpu_instance_id)
        sample = call(nvml.nvmlGpmSampleAlloc)
        if sample is None:
            return {}
        if gpu_instance_id is None:
            got = call(nvml.nvmlGpmSampleGet, handle, sample)
        else:
            got = call(nvml.nvmlGpmMigSampleGet, handle, gpu_instance_id, sample)
        if got is None:
            call(nvml.nvmlGpmSampleFree, sample)
            return {}
        previous = self._previous.get(key)
        self._previous[key] = sample
        if previous is None:
            return {}
        try:
            request = nvml.c_nvmlGpmMetricsGet_t()
            request.version = nvml.NVML_GPM_METRICS_GET_VERSION
            wanted = list(METRICS.items()) + (
                [(field, metric_id) for field, (metric_id, _) in RATES.items()] if gpu_instance_id is None else []
            )
            request.numMetrics = len(wanted)
            request.sample1 = previous
            request.sample2 = sample
            for i, (_, metric_id) in enumerate(wanted):
                request.metrics[i].metricId = metric_id
            result = call(nvml.nvmlGpmMetricsGet, request)
        finally:
            call(nvml.nvmlGpmSampleFree, previous)
        if result is None:
            return {}
        out: dict[str, float] = {}
        for i, (kind, _) in enumerate(wanted):
            metric = result.metrics[i]
            if metric.nvmlReturn != NVML_SUCCESS:
                continue
            if kind in RATES:
                out[kind] = max(0.0, float(metric.value)) * RATES[kind][1]
            else:
                out[kind] = max(0.0, min(1.0, float(metric.value) / 100.0))
        return out

    def forget(self, keep: set[str]) -> None:
        """Drop samples of GPUs no longer present (after a reset or re-initialisation)."""
        for key in [k for k in self._previous if k[0] not in keep]:
            del self._previous[key]
        for uuid in [u for u in self._supported if u not in keep]:
            del self._supported[uuid]

    def reset(self) -> None:
        """Forget everything (NVML was re-initialised: old samples are invalid)."""
        self._previous.clear()
        self._supported.clear()
