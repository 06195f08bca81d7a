"""The client's content-addressed blob cache.

Blobs are kept as ``<cache>/blobs/sha256/<ab>/<hex>``, written to ``<cache>/tmp`` first
and renamed only after their digest verified, so a cached file is always whole and
correct. Pulling a version whose blobs are cached reads nothing from the server.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from modeldepot.digest import hex_of


class BlobCache:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def path(self, digest: str) -> Path:
        hex_digest = hex_of(digest)
        return self.root / "blobs" / "sha256" / hex_digest[:2] / hex_digest

    def has(self, digest: str, size: int) -> bool:
        try:
            return self.path(digest).stat().st_size == size
        except FileNotFoundError:
            return False

    def temp_path(self) -> Path:
        folder = self.root / "tmp"
        folder.mkdir(parents=True, exist_ok=True)
        return folder / uuid.uuid4().hex

    def adopt(self, temp: Path, digest: str) -> Path:
        """Move a verified temporary file into the cache under ``digest``."""
        target = self.path(digest)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(temp, target)
        return target
