"""Capture of the software environment (``capture_environment``) and of accelerators."""

from __future__ import annotations

import platform
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

import pytest

from modeldepot.client.capture import accelerator
from modeldepot.client.capture.accelerator import describe, parse_nvidia_smi
from modeldepot.client.capture.environment import (
    capture_environment,
    installed_packages,
)
from modeldepot.environment import normalize_name


def fake_distribution(site: Path, folder: str, name: str | None, version: str) -> None:
    info = site / folder
    info.mkdir(parents=True)
    header = f"Metadata-Version: 2.1\n{f'Name: {name}' if name else ''}\nVersion: {version}\n"
    (info / "METADATA").write_text(header + "\nA long description.\nName: not-this\n")


def test_records_this_python_and_platform() -> None:
    env = capture_environment()
    assert env.python == platform.python_version()
    assert env.implementation == platform.python_implementation()
    assert env.platform == platform.platform()


def test_records_installed_distributions_by_normalised_name() -> None:
    packages = capture_environment().packages
    assert packages["pytest"] == metadata.version("pytest")
    assert packages["scikit-learn"] == metadata.version("scikit-learn")
    assert packages["pyyaml"] == metadata.version("PyYAML")
    assert all(name == normalize_name(name) for name in packages)
    assert list(packages) == sorted(packages)


def test_first_distribution_on_sys_path_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_distribution(tmp_path, "PyTest-0.0.1.dist-info", "PyTest", "0.0.1")
    fake_distribution(tmp_path, "My_Odd.Package-2.0.dist-info", "My_Odd.Package", "2.0")
    fake_distribution(tmp_path, "nameless-1.0.dist-info", None, "1.0")
    monkeypatch.syspath_prepend(str(tmp_path))
    packages = installed_packages()
    assert packages["pytest"] == "0.0.1"
    assert packages["my-odd-package"] == "2.0"
    assert "nameless" not in packages and "not-this" not in packages


def test_reads_the_same_names_and_versions_as_importlib_metadata() -> None:
    expected: dict[str, str] = {}
    for dist in metadata.distributions():
        if dist.metadata["Name"] and dist.version:
            expected.setdefault(normalize_name(dist.metadata["Name"]), dist.version)
    assert installed_packages() == expected


def test_container_image_is_recorded_as_given() -> None:
    assert capture_environment().container_image is None
    image = "ghcr.io/acme/train@sha256:" + "a" * 64
    assert capture_environment(container_image=image).container_image == image
    assert capture_environment(container_image="   ").container_image is None


def test_an_oversized_container_image_is_left_out_rather_than_failing() -> None:
    assert capture_environment(container_image="x" * 1001).container_image is None


def test_does_not_import_frameworks() -> None:
    code = (
        "import sys\n"
        "from modeldepot.client.capture import capture_code, capture_environment\n"
        "capture_environment(); capture_code()\n"
        "heavy = {'torch', 'sklearn', 'numpy', 'onnx', 'yaml'} & set(sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_asks_torch_only_when_already_imported(monkeypatch: pytest.MonkeyPatch) -> None:
    class Cuda:
        @staticmethod
        def is_available() -> bool:
            return True

        @staticmethod
        def device_count() -> int:
            return 2

        @staticmethod
        def get_device_name(index: int) -> str:
            return "NVIDIA H100 80GB HBM3"

    class Torch:
        cuda = Cuda

    monkeypatch.setitem(sys.modules, "torch", Torch)
    assert capture_environment().accelerator == "2 x NVIDIA H100 80GB HBM3"


def test_reads_nvidia_gpus_from_the_driver(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for bus, model in (("0000:01:00.0", "NVIDIA A100-SXM4-40GB"), ("0000:02:00.0", "Tesla T4")):
        (tmp_path / bus).mkdir()
        (tmp_path / bus / "information").write_text(
            f"Model: \t\t {model}\nIRQ:   \t\t 42\nGPU UUID: \t GPU-1234\n"
        )
    monkeypatch.setattr(accelerator, "NVIDIA_PROC", tmp_path)
    monkeypatch.delitem(sys.modules, "torch", raising=False)
    assert capture_environment().accelerator == "1 x NVIDIA A100-SXM4-40GB, 1 x Tesla T4"


def test_reads_nvidia_smi_when_on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    program = tmp_path / "nvidia-smi"
    program.write_text(
        "#!/bin/sh\n"
        "echo 'GPU 0: NVIDIA L4 (UUID: GPU-0f2a)'\n"
        "echo 'GPU 1: NVIDIA L4 (UUID: GPU-9b1c)'\n"
    )
    program.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(accelerator, "NVIDIA_PROC", tmp_path / "absent")
    monkeypatch.delitem(sys.modules, "torch", raising=False)
    assert capture_environment().accelerator == "2 x NVIDIA L4"


def test_a_hanging_nvidia_smi_is_abandoned(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    program = tmp_path / "nvidia-smi"
    program.write_text("#!/bin/sh\nexec sleep 30\n")
    program.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
    monkeypatch.setattr(accelerator, "NVIDIA_PROC", tmp_path / "absent")
    monkeypatch.setattr(accelerator, "NVIDIA_SMI_TIMEOUT", 0.3)
    monkeypatch.delitem(sys.modules, "torch", raising=False)
    started = time.monotonic()
    assert capture_environment().accelerator is None
    assert time.monotonic() - started < 5


def test_no_accelerator_without_torch_or_nvidia(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(accelerator, "NVIDIA_PROC", tmp_path / "absent")
    monkeypatch.delitem(sys.modules, "torch", raising=False)
    assert capture_environment().accelerator is None


def test_parse_nvidia_smi() -> None:
    output = (
        "GPU 0: NVIDIA A100-SXM4-80GB (UUID: GPU-aaaa)\n"
        "  MIG 3g.40gb     Device  0: (UUID: MIG-bbbb)\n"
        "GPU 1: NVIDIA A100-SXM4-80GB (UUID: GPU-cccc)\n"
    )
    assert parse_nvidia_smi(output) == "2 x NVIDIA A100-SXM4-80GB"
    assert parse_nvidia_smi("") is None


def test_describe() -> None:
    assert describe([]) is None
    assert describe(["T4"]) == "T4"
    assert describe(["T4", "T4", "L4"]) == "2 x T4, 1 x L4"
