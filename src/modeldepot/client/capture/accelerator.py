"""The accelerator this process can see, found without importing any framework.

``torch`` is asked only when the process has already imported it (importing it here
would cost seconds); otherwise NVIDIA GPUs are read from the driver's ``/proc`` files
or, failing that, from ``nvidia-smi -L``.
"""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

log = logging.getLogger(__name__)

NVIDIA_SMI_TIMEOUT = 2.0
NVIDIA_PROC = Path("/proc/driver/nvidia/gpus")
_SMI_LINE = re.compile(r"^GPU \d+: (?P<name>.+?)(?: \(UUID: [^)]*\))?$")


def detect_accelerator() -> str | None:
    """A description such as ``NVIDIA A100-SXM4-40GB`` or ``2 x NVIDIA T4``, else None.

    Never raises; takes at most ``NVIDIA_SMI_TIMEOUT`` seconds.
    """
    for probe in (_torch_cuda, _nvidia_proc, _nvidia_smi, _torch_mps):
        try:
            found = probe()
        except Exception:
            log.debug("accelerator probe %s failed", probe.__name__, exc_info=True)
            continue
        if found:
            return found
    return None


def describe(names: list[str]) -> str | None:
    """One line for a list of device names: ``A``, ``2 x A`` or ``2 x A, 1 x B``."""
    counts = Counter(name.strip() for name in names if name.strip())
    if not counts:
        return None
    if counts.total() == 1:
        return next(iter(counts))
    return ", ".join(f"{n} x {name}" for name, n in counts.items())


def _torch_cuda() -> str | None:
    torch = sys.modules.get("torch")
    if torch is None or not torch.cuda.is_available():
        return None
    return describe([torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())])


def _torch_mps() -> str | None:
    torch = sys.modules.get("torch")
    if torch is None or not torch.backends.mps.is_available():
        return None
    return "mps"


def _nvidia_proc() -> str | None:
    """Model lines of ``NVIDIA_PROC/*/information`` (``Model:  NVIDIA A100 …``)."""
    if not NVIDIA_PROC.is_dir():
        return None
    names = []
    for info in sorted(NVIDIA_PROC.glob("*/information")):
        for line in info.read_text(errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "Model" and value.strip():
                names.append(value.strip())
                break
    return describe(names)


def _nvidia_smi() -> str | None:
    program = shutil.which("nvidia-smi")
    if program is None:
        return None
    done = subprocess.run(
        [program, "-L"],
        capture_output=True,
        stdin=subprocess.DEVNULL,
        timeout=NVIDIA_SMI_TIMEOUT,
        check=False,
    )
    if done.returncode != 0:
        return None
    return parse_nvidia_smi(done.stdout.decode("utf-8", "replace"))


def parse_nvidia_smi(output: str) -> str | None:
    """Device names from ``nvidia-smi -L`` output (``GPU 0: NAME (UUID: …)`` lines)."""
    names = [m["name"] for m in map(_SMI_LINE.match, output.splitlines()) if m is not None]
    return describe(names)
