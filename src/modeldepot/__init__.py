"""modeldepot: a self-hosted ML model registry.

``from modeldepot import Client`` is the SDK's entry point; it is imported lazily
so that the CLI starts fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["Client", "__version__"]

if TYPE_CHECKING:
    from modeldepot.client.client import Client


def __getattr__(name: str) -> Any:
    if name == "Client":
        from modeldepot.client.client import Client

        return Client
    raise AttributeError(name)
