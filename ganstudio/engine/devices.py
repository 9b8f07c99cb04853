"""Device choice (CUDA, then MPS, then CPU) and the precision policy for each."""

from __future__ import annotations

import os
import sys

import torch

from ganstudio.engine.errors import ConfigError


def cuda_available() -> bool:
    return torch.cuda.is_available()


def mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps and mps.is_available())


def available_devices() -> list[str]:
    """The device names a user can pick here, ``auto`` first."""
    names = ["auto", "cpu"]
    if cuda_available():
        names.append("cuda")
    if mps_available():
        names.append("mps")
    return names


def resolve_device(name: str = "auto") -> torch.device:
    if name == "auto":
        if cuda_available():
            return torch.device("cuda")
        if mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not cuda_available():
        raise ConfigError(
            "Device 'cuda' was asked for, but this PyTorch has no usable CUDA GPU; "
            "use --device cpu or auto."
        )
    if name == "mps" and not mps_available():
        raise ConfigError(
            "Device 'mps' was asked for, but Apple's Metal backend is not available here; "
            "use --device cpu or auto."
        )
    if name not in ("cpu", "cuda", "mps"):
        raise ConfigError(f"Unknown device {name!r}; use auto, cpu, cuda or mps.")
    return torch.device(name)


def autocast_dtype(device: torch.device, convolutional: bool) -> torch.dtype | None:
    """bf16 autocast on CUDA GPUs that support it, for convolutional nets only.

    The small MLPs of the 2-D sets are launch-bound, so autocast would only add casts.
    Losses and penalties are always computed in float32.
    """
    if device.type == "cuda" and convolutional and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return None


def describe(device: torch.device, dtype: torch.dtype | None = None) -> str:
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
    elif device.type == "mps":
        name = "Apple GPU (MPS)"
    else:
        name = f"CPU ({torch.get_num_threads()} threads)"
    return f"{name}, bf16 autocast" if dtype == torch.bfloat16 else name


def available_memory(device: torch.device) -> int | None:
    """Bytes free for new tensors on ``device`` now (None where it cannot be known)."""
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    if device.type != "cpu":
        return None
    if sys.platform.startswith("linux"):
        try:
            with open("/proc/meminfo", encoding="ascii") as f:
                for line in f:
                    if line.startswith("MemAvailable:"):
                        return int(line.split()[1]) * 1024
        except (OSError, ValueError, IndexError):
            pass
    if os.name == "nt":
        return _windows_available_memory()
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, AttributeError):
        return None


def _windows_available_memory() -> int | None:
    import ctypes

    class MemoryStatus(ctypes.Structure):
        _fields_ = [("dwLength", ctypes.c_ulong), ("dwMemoryLoad", ctypes.c_ulong),
                    ("ullTotalPhys", ctypes.c_ulonglong), ("ullAvailPhys", ctypes.c_ulonglong),
                    ("ullTotalPageFile", ctypes.c_ulonglong),
                    ("ullAvailPageFile", ctypes.c_ulonglong),
                    ("ullTotalVirtual", ctypes.c_ulonglong),
                    ("ullAvailVirtual", ctypes.c_ulonglong),
                    ("ullAvailExtendedVirtual", ctypes.c_ulonglong)]

    status = MemoryStatus()
    status.dwLength = ctypes.sizeof(MemoryStatus)
    if not ctypes.windll.kernel32.GlobalMemoryStatusEx(ctypes.byref(status)):
        return None
    return int(status.ullAvailPhys)
