"""model_info.device: the machine and the model in under 200 characters, nothing personal."""

from __future__ import annotations

import getpass
import socket
from pathlib import Path

import pytest

from gambiarra.adapters.device import MAX_DEVICE_CHARS, Machine, device_text, read_machine
from gambiarra.ports import ModelFacts

QWEN = ModelFacts(family="qwen3", parameter_size="4.0B", quantization="Q4_K_M", gpu_share=0.4)


def fake_linux(root: Path, cpuinfo: str, gpus: list[str] = ()) -> None:  # type: ignore[assignment]
    (root / "etc").mkdir()
    (root / "etc" / "os-release").write_text('NAME="Ubuntu"\nVERSION_ID="24.04"\nID=ubuntu\n')
    (root / "proc").mkdir()
    (root / "proc" / "cpuinfo").write_text(cpuinfo)
    for i, gpu in enumerate(gpus):
        board = root / "proc" / "driver" / "nvidia" / "gpus" / f"0000:0{i}:00.0"
        board.mkdir(parents=True)
        (board / "information").write_text(f"Model: \t\t {gpu}\nIRQ:   129\n")


def test_a_linux_machine_is_read_from_small_files(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr("platform.system", lambda: "Linux")
    monkeypatch.setattr("platform.machine", lambda: "x86_64")
    cpu = "processor\t: 0\nmodel name\t: AMD Ryzen 7 5800H with Radeon Graphics\n" * 16
    fake_linux(tmp_path, cpu, ["NVIDIA GeForce RTX 3060 Laptop GPU"])
    machine = read_machine(tmp_path)
    assert machine.os == "Ubuntu 24.04"
    assert machine.cpu == "AMD Ryzen 7 5800H with Radeon Graphics"
    assert machine.gpu == "NVIDIA GeForce RTX 3060 Laptop GPU"
    text = device_text(machine, QWEN)
    assert text.startswith("Ubuntu 24.04 x86_64 · AMD Ryzen 7 5800H with Radeon Graphics (")
    assert text.endswith("· NVIDIA GeForce RTX 3060 Laptop GPU · qwen3 4.0B Q4_K_M · 40% GPU")


def test_a_raspberry_pi_and_two_gpus(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr("platform.system", lambda: "Linux")
    fake_linux(tmp_path, "Hardware\t: BCM2835\nModel\t\t: Raspberry Pi 5 Model B Rev 1.0\n",
               ["NVIDIA RTX A4000", "NVIDIA RTX A4000"])  # fmt: skip
    machine = read_machine(tmp_path)
    assert machine.cpu == "Raspberry Pi 5 Model B Rev 1.0"
    assert machine.gpu == "2x NVIDIA RTX A4000"


def test_missing_files_leave_parts_out(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr("platform.system", lambda: "Linux")
    machine = read_machine(tmp_path)  # an empty tree
    assert (machine.os, machine.cpu, machine.gpu) == ("Linux", None, None)
    assert device_text(machine).startswith("Linux ")


def test_the_text_is_bounded_and_single_line_whatever_the_sources_say() -> None:
    machine = Machine(
        os="Ubuntu\n24.04\x1b[31m", arch="x86_64", cpu="C" * 500, threads=128,
        memory_gb=512, gpu="G" * 500,
    )  # fmt: skip
    text = device_text(machine, ModelFacts(family="F" * 300, quantization="Q" * 300))
    assert len(text) <= MAX_DEVICE_CHARS
    assert len(text.encode("utf-16-le")) // 2 < 200  # as the arena counts
    assert text.isprintable()
    assert text.startswith("Ubuntu 24.04 [31m x86_64 · ")


def test_nothing_personal_goes_out() -> None:
    text = device_text(read_machine(), QWEN)
    assert getpass.getuser() not in text.split()
    assert socket.gethostname() not in text
    assert "/home" not in text


@pytest.mark.parametrize(
    ("facts", "tail"),
    [
        (ModelFacts(), "x86_64"),
        (ModelFacts(quantization="Q8_0"), "x86_64 · Q8_0"),
        (ModelFacts(gpu_share=1.0), "x86_64 · 100% GPU"),
        (ModelFacts(gpu_share=0.0), "x86_64 · 0% GPU"),
    ],
)
def test_only_what_the_server_said_is_shown(facts: ModelFacts, tail: str) -> None:
    assert device_text(Machine(os="Linux", arch="x86_64"), facts).endswith(tail)
