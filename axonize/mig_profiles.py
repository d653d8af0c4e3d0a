"""MIG hardware facts: a GPU's compute slices and a MIG profile's, from the NVIDIA MIG User Guide.

Source: NVIDIA Multi-Instance GPU User Guide, "Supported GPUs" (the "Max
Number of Instances" column) and "Supported MIG Profiles" (the "Fraction of
SMs" column, whose denominator that number is: A30 1g.6gb = 1/4, A100 1g.10gb
= 1/7), and "MIG Device Names" for the profile syntax
``[<C>c.]<G>g.<memory>gb[+me|...]``.

    gpu_slices("NVIDIA H100 80GB HBM3")   # -> 7
    profile_slices("1c.3g.71gb")          # -> 3 (the GPU instance's slices, not the compute instance's)
    mig_share("3g.40gb", "NVIDIA H100 80GB HBM3")   # -> 3/7 of the GPU
"""

from __future__ import annotations

import re

#: Compute slices of a whole GPU in MIG mode, by model name (case-insensitive search).
GPU_SLICES: tuple[tuple[re.Pattern, int], ...] = (
    (re.compile(r"\bA30\b", re.IGNORECASE), 4),
    (re.compile(r"\b(?:A100|H100|H20|H200|GH200|B200|GB200)\b", re.IGNORECASE), 7),
)

#: A MIG device name's profile: ``[<C>c.]<G>g.<memory>gb[+me|...]``; ``<G>`` is the GPU instance's compute
#: slices, ``<C>`` the compute instance's within it.
_PROFILE = re.compile(r"^(?:MIG\s+)?(?:(?P<ci>\d+)c\.)?(?P<gi>\d+)g\.", re.IGNORECASE)


def gpu_slices(gpu_model: str) -> int | None:
    """Compute slices of the GPU (7 on A100, H100, H20, H200, GH200, B200, GB200; 4 on A30), or None if unknown."""
    for pattern, slices in GPU_SLICES:
        if pattern.search(gpu_model or ""):
            return slices
    return None


def profile_slices(profile: str | None) -> int | None:
    """The GPU instance's compute slices from a MIG profile: ``"3g.40gb"`` -> 3, ``"1c.3g.71gb"`` -> 3 (the GI's, not the CI's)."""
    m = _PROFILE.match((profile or "").strip())
    return int(m.group("gi")) if m and int(m.group("gi")) > 0 else None


def mig_share(
    profile: str | None,
    gpu_model: str,
    multiprocessors: int | None = None,
    gpu_multiprocessors: int | None = None,
) -> float | None:
    """The share (ratio 0-1] of the whole GPU that a MIG GPU instance is, or None when it cannot be told.

    From the profile: the GPU instance's compute slices over the GPU's
    (:func:`profile_slices` / :func:`gpu_slices`), as the "Fraction of SMs"
    column of the MIG User Guide's "Supported MIG Profiles" tables gives it:
    ``"1g.10gb"`` on an H100 -> 1/7, ``"3g.40gb"`` -> 3/7, ``"7g.80gb"`` -> 1,
    ``"1g.6gb"`` on an A30 -> 1/4. A compute-instance profile (``"1c.3g.71gb"``)
    counts its GPU instance's slices (3/7): compute instances share their GI.

    When the profile or the GPU's slice count is unknown: the GI's streaming
    multiprocessors over the GPU's (``multiprocessors / gpu_multiprocessors``),
    when both are given; else None.
    """
    slices, total = profile_slices(profile), gpu_slices(gpu_model)
    if slices is not None and total is not None and slices <= total:
        return slices / total
    if multiprocessors and gpu_multiprocessors and 0 < multiprocessors <= gpu_multiprocessors:
        return multiprocessors / gpu_multiprocessors
    return None
