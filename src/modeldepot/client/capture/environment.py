"""The software environment of this process, as an ``EnvironmentInfo``.

Fast (a few tens of milliseconds with hundreds of distributions) and import-light:
distribution names and versions are read from metadata headers without parsing whole
files, and accelerators are found without importing any framework.
"""

from __future__ import annotations

import logging
import platform
from collections.abc import Callable
from importlib import metadata

from modeldepot.client.capture.accelerator import detect_accelerator
from modeldepot.environment import normalize_name
from modeldepot.schemas.lineage import EnvironmentInfo

log = logging.getLogger(__name__)

_MAX_IMAGE = 1000


def capture_environment(*, container_image: str | None = None) -> EnvironmentInfo:
    """Python, platform, installed distributions, accelerator and container image.

    ``container_image`` is recorded as given (the SDK passes its setting). Never raises:
    what cannot be learned is None (``packages``: empty).
    """
    return EnvironmentInfo(
        python=_safely(platform.python_version, 64),
        implementation=_safely(platform.python_implementation, 32),
        platform=_safely(platform.platform, 255),
        packages=_safely_packages(),
        accelerator=_safely(detect_accelerator, 255),
        container_image=_container_image(container_image),
    )


def installed_packages() -> dict[str, str]:
    """Normalised distribution name → version, sorted by name.

    When a name is installed twice on ``sys.path``, the first wins, as for imports.
    """
    found: dict[str, str] = {}
    for dist in metadata.distributions():
        header = _name_and_version(dist)
        if header is None:
            continue
        name = normalize_name(header[0])
        found.setdefault(name, header[1])
    return dict(sorted(found.items()))


def _name_and_version(dist: metadata.Distribution) -> tuple[str, str] | None:
    """Name and version from the metadata header only.

    ``dist.metadata`` parses the whole file, long description included, which costs
    most of a second in a large environment; the header is enough.
    """
    text = dist.read_text("METADATA") or dist.read_text("PKG-INFO") or ""
    name = version = None
    for line in text.splitlines():
        if not line.strip():
            break  # end of the header
        if line.startswith("Name:"):
            name = line[5:].strip()
        elif line.startswith("Version:"):
            version = line[8:].strip()
        if name and version:
            return name, version
    return None


def _safely_packages() -> dict[str, str]:
    try:
        return installed_packages()
    except Exception:  # a broken distribution must not cost the whole capture
        log.debug("could not list installed distributions", exc_info=True)
        return {}


def _safely(probe: Callable[[], str | None], limit: int) -> str | None:
    try:
        value = probe()
    except Exception:
        log.debug("environment probe %s failed", probe.__name__, exc_info=True)
        return None
    return value[:limit] if value else None


def _container_image(given: str | None) -> str | None:
    image = (given or "").strip()
    if len(image) > _MAX_IMAGE:
        log.debug("ignoring a container image reference of %d characters", len(image))
        return None
    return image or None
