"""A short, honest description of the machine and the model, for ``model_info.device``.

``device`` is the only free-text field the arena keeps (protocol.md), and
the only way the organisers can tell which machine or quantization produced
an answer. It holds: the operating system and architecture, the CPU and GPU
names and the memory where they are cheap to know (a few small files under
``/proc``, ``/sys`` and ``/etc`` on Linux; no subprocess, which could hang),
and what the model server says of the model (family, size, quantization,
share in GPU memory). Never anything personal: no user or host name, no path.
"""

from __future__ import annotations

import os
import platform
import re
from dataclasses import dataclass
from pathlib import Path

from gambiarra.ports import ModelFacts, ModelHost, ModelRunner

__all__ = ["MAX_DEVICE_CHARS", "Machine", "describe_device", "device_text", "read_machine"]

# Under 200 characters (the issue), counted by the arena in UTF-16 units:
# everything here is ASCII but the " · " separator, one unit each.
MAX_DEVICE_CHARS = 199
_PART_CHARS = 48
_READ_LIMIT = 64 * 1024  # /proc/cpuinfo of a 128-thread machine is longer; the name is first


@dataclass(frozen=True, slots=True)
class Machine:
    os: str
    arch: str
    cpu: str | None = None
    threads: int | None = None
    memory_gb: int | None = None
    gpu: str | None = None


async def describe_device(runner: ModelRunner, root: Path = Path("/")) -> str:
    """This machine and the runner's model, as ``model_info.device`` carries them."""
    facts = await runner.describe() if isinstance(runner, ModelHost) else None
    return device_text(read_machine(root), facts)


def read_machine(root: Path = Path("/")) -> Machine:
    """What this machine is, from the standard library and a few small files.

    Args:
        root: where ``/proc``, ``/sys`` and ``/etc`` are (tests pass a fake tree).
    """
    system = platform.system()
    return Machine(
        os=_os_name(system, root),
        arch=platform.machine() or "?",
        cpu=_cpu_name(root) if system == "Linux" else None,
        threads=os.cpu_count(),
        memory_gb=_memory_gb(),
        gpu=_gpu_name(root) if system == "Linux" else None,
    )


def device_text(machine: Machine, model: ModelFacts | None = None) -> str:
    """One line under ``MAX_DEVICE_CHARS``: the machine, then the model."""
    parts = [f"{machine.os} {machine.arch}"]
    if machine.cpu:
        threads = f" ({machine.threads} threads)" if machine.threads else ""
        parts.append(machine.cpu + threads)
    if machine.memory_gb:
        parts.append(f"{machine.memory_gb} GB RAM")
    if machine.gpu:
        parts.append(machine.gpu)
    if model is not None:
        described = " ".join(
            p for p in (model.family, model.parameter_size, model.quantization) if p
        )
        if described:
            parts.append(described)
        if model.gpu_share is not None:
            parts.append(f"{model.gpu_share:.0%} GPU")
    text = " · ".join(_clean(part)[:_PART_CHARS] for part in parts)
    return text if len(text) <= MAX_DEVICE_CHARS else text[: MAX_DEVICE_CHARS - 1] + "…"


def _clean(text: str) -> str:
    """Printable, single-spaced: these strings come from files and model servers."""
    return " ".join("".join(c if c.isprintable() else " " for c in text).split())


def _head(path: Path) -> str:
    try:
        with path.open("rb") as file:
            return file.read(_READ_LIMIT).decode("utf-8", "replace")
    except OSError:
        return ""


def _field(text: str, *names: str) -> str | None:
    for name in names:
        found = re.search(rf"^{re.escape(name)}\s*[:=]\s*(.+)$", text, re.MULTILINE)
        if found:
            return found.group(1).strip().strip('"') or None
    return None


def _os_name(system: str, root: Path) -> str:
    if system == "Linux":
        release = _head(root / "etc" / "os-release")
        name, version = _field(release, "NAME"), _field(release, "VERSION_ID")
        return " ".join(p for p in (name, version) if p) or "Linux"
    if system == "Darwin":
        return f"macOS {platform.mac_ver()[0]}".strip()
    if system == "Windows":
        return f"Windows {platform.release()}".strip()
    return system or "?"


def _cpu_name(root: Path) -> str | None:
    # x86 says "model name"; ARM boards say "Model" (Raspberry Pi) or "Hardware".
    return _field(_head(root / "proc" / "cpuinfo"), "model name", "Model", "Hardware")


def _gpu_name(root: Path) -> str | None:
    """An NVIDIA GPU as its driver names it (no subprocess: ``nvidia-smi`` can hang)."""
    gpus = root / "proc" / "driver" / "nvidia" / "gpus"
    try:
        boards = sorted(gpus.iterdir())
    except OSError:
        return None
    names = [_field(_head(board / "information"), "Model") for board in boards]
    found = [n for n in names if n]
    if not found:
        return None
    return found[0] if len(found) == 1 else f"{len(found)}x {found[0]}"


def _memory_gb() -> int | None:
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):  # Windows has no sysconf
        return None
    return round(total / 2**30) if total > 0 else None
