"""Device and dtype choice: CUDA, then Apple MPS, then CPU; half precision on accelerators, fp32 on CPU."""

from __future__ import annotations

import logging
import re

import torch

logger = logging.getLogger(__name__)

DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


def pick_device(override: str | None = None) -> torch.device:
    """Returns `override` if given ("cuda", "cuda:1", "mps", "cpu"), else the best available device.

    Raises:
        ValueError: the requested device is not available on this machine.
    """
    if override:
        device = torch.device(override)
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"`device` {override!r} was requested but CUDA is not available on this machine")
        if device.type == "mps" and not torch.backends.mps.is_available():
            raise ValueError(f"`device` {override!r} was requested but MPS is not available on this machine")
        return device
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def pick_dtype(device: torch.device, override: str | None = None) -> torch.dtype:
    """fp16 on CUDA/MPS (bf16 is an override: it avoids fp16 VAE overflow on Ampere+), fp32 on CPU.

    Args:
        device: where the model runs.
        override: "fp32", "fp16" or "bf16".
    """
    if override:
        if override not in DTYPES:
            raise ValueError(f"`dtype` must be one of {sorted(DTYPES)}, got {override!r}")
        return DTYPES[override]
    if device.type in ("cuda", "mps"):
        return torch.float16
    return torch.float32  # half precision on CPU is slow or unsupported for many ops


def dtype_name(dtype: torch.dtype) -> str:
    return {v: k for k, v in DTYPES.items()}.get(dtype, str(dtype).removeprefix("torch."))


def free_memory_bytes(device: torch.device) -> int:
    """Memory currently available for models on `device`, in bytes."""
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        return int(free)
    if device.type == "mps":
        return int(torch.mps.recommended_max_memory())
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 8 * 1024**3  # unknown platform: assume a modest laptop


_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]i?b?|b)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}


def parse_size(text: str) -> int:
    """Parses "512MB", "6GB", "6 GiB", "1.5g" or a plain byte count into bytes."""
    match = _SIZE.match(text)
    if not match:
        raise ValueError(f"`memory_budget` must look like '6GB' or '512MB', got {text!r}")
    number, unit = match.groups()
    return int(float(number) * _UNITS[(unit or "").lower()[:1]])
