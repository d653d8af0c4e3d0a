"""How busy each GPU and MIG GPU instance is: NVML utilization and GPM/DCGM profiling ratios.

Rows of the names registry (:mod:`axonize.names`); the exporter binds each to the snapshot values it exposes.
"""

from __future__ import annotations

from axonize.names import Name
from axonize.names.labels import GPU, MIG_INSTANCE

_C = "exporter"

NAMES: tuple[Name, ...] = (
    Name(
        "axonize_gpu_utilization_ratio",
        "gauge",
        "ratio",
        GPU,
        "Share of the sample period in which at least one kernel ran (NVML utilization.gpu, 0-1; N/A under MIG). Not SM occupancy.",
        _C,
    ),
    Name(
        "axonize_gpu_memory_utilization_ratio",
        "gauge",
        "ratio",
        GPU,
        "Share of the sample period in which device memory was read or written (memory-controller busy, 0-1), not capacity used.",
        _C,
    ),
    Name("axonize_gpu_encoder_utilization_ratio", "gauge", "ratio", GPU, "Video encoder utilization, 0-1.", _C),
    Name("axonize_gpu_decoder_utilization_ratio", "gauge", "ratio", GPU, "Video decoder utilization, 0-1.", _C),
    Name(
        "axonize_gpu_sm_active_ratio",
        "gauge",
        "ratio",
        GPU,
        "Share of SMs busy (at least one warp resident) over the interval, 0-1: the honest 'GPU busy' (DCGM_FI_PROF_SM_ACTIVE).",
        _C,
    ),
    Name(
        "axonize_gpu_sm_occupancy_ratio",
        "gauge",
        "ratio",
        GPU,
        "Resident warps as a share of the SMs' maximum over the interval, 0-1 (DCGM_FI_PROF_SM_OCCUPANCY).",
        _C,
    ),
    Name(
        "axonize_gpu_tensor_active_ratio",
        "gauge",
        "ratio",
        GPU,
        "Share of cycles any tensor pipe was busy over the interval, 0-1 (DCGM_FI_PROF_PIPE_TENSOR_ACTIVE).",
        _C,
    ),
    Name(
        "axonize_gpu_dram_active_ratio",
        "gauge",
        "ratio",
        GPU,
        "Device-memory bandwidth used as a share of the peak over the interval, 0-1 (DCGM_FI_PROF_DRAM_ACTIVE).",
        _C,
    ),
    Name(
        "axonize_gpu_graphics_engine_active_ratio",
        "gauge",
        "ratio",
        GPU,
        "Share of time the graphics/compute engine was active over the interval, 0-1 (DCGM_FI_PROF_GR_ENGINE_ACTIVE).",
        _C,
    ),
    Name(
        "axonize_gpu_fp64_active_ratio", "gauge", "ratio", GPU, "Share of time the SMs did non-tensor FP64 math over the interval, 0-1.", _C
    ),
    Name(
        "axonize_gpu_fp32_active_ratio", "gauge", "ratio", GPU, "Share of time the SMs did non-tensor FP32 math over the interval, 0-1.", _C
    ),
    Name(
        "axonize_gpu_fp16_active_ratio", "gauge", "ratio", GPU, "Share of time the SMs did non-tensor FP16 math over the interval, 0-1.", _C
    ),
    Name(
        "axonize_mig_sm_active_ratio",
        "gauge",
        "ratio",
        MIG_INSTANCE,
        "Share of SMs busy (at least one warp resident) over the interval, 0-1: the honest 'GPU busy' (DCGM_FI_PROF_SM_ACTIVE).",
        _C,
    ),
    Name(
        "axonize_mig_sm_occupancy_ratio",
        "gauge",
        "ratio",
        MIG_INSTANCE,
        "Resident warps as a share of the SMs' maximum over the interval, 0-1 (DCGM_FI_PROF_SM_OCCUPANCY).",
        _C,
    ),
    Name(
        "axonize_mig_tensor_active_ratio",
        "gauge",
        "ratio",
        MIG_INSTANCE,
        "Share of cycles any tensor pipe was busy over the interval, 0-1 (DCGM_FI_PROF_PIPE_TENSOR_ACTIVE).",
        _C,
    ),
    Name(
        "axonize_mig_dram_active_ratio",
        "gauge",
        "ratio",
        MIG_INSTANCE,
        "Device-memory bandwidth used as a share of the peak over the interval, 0-1 (DCGM_FI_PROF_DRAM_ACTIVE).",
        _C,
    ),
    Name(
        "axonize_mig_graphics_engine_active_ratio",
        "gauge",
        "ratio",
        MIG_INSTANCE,
        "Share of time the graphics/compute engine was active over the interval, 0-1 (DCGM_FI_PROF_GR_ENGINE_ACTIVE).",
        _C,
    ),
    Name(
        "axonize_mig_fp64_active_ratio",
        "gauge",
        "ratio",
        MIG_INSTANCE,
        "Share of time the SMs did non-tensor FP64 math over the interval, 0-1.",
        _C,
    ),
    Name(
        "axonize_mig_fp32_active_ratio",
        "gauge",
        "ratio",
        MIG_INSTANCE,
        "Share of time the SMs did non-tensor FP32 math over the interval, 0-1.",
        _C,
    ),
    Name(
        "axonize_mig_fp16_active_ratio",
        "gauge",
        "ratio",
        MIG_INSTANCE,
        "Share of time the SMs did non-tensor FP16 math over the interval, 0-1.",
        _C,
    ),
)
