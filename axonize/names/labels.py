"""Label sets that many registry rows share, in exposition order."""

#: Every per-GPU series: the nvidia-smi / NVML index and the GPU's UUID.
GPU = ("gpu", "uuid")
#: A MIG GPU instance of a GPU.
MIG_INSTANCE = (*GPU, "gpu_instance_id")
#: The container (or pod, or systemd service) whose processes use a GPU or MIG instance.
CONTAINER = (
    *GPU,
    "gpu_instance_id",
    "compute_instance_id",
    "container_runtime",
    "container_id",
    "container",
    "pod",
    "namespace",
    "pod_uid",
    "systemd_unit",
)
#: Every normalized inference series (``engine_index`` follows where the engine has several cores).
INFERENCE = ("engine", "model", "server")
