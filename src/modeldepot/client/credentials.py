"""Where the SDK and CLI find the token they send, without the user doing anything.

In order: an explicit token (argument or ``MODELDEPOT_TOKEN``); the one ``modeldepot
login`` stored for this server's URL (``$XDG_CONFIG_HOME/modeldepot/credentials.json``,
mode 0600); and, for a server on this machine, the admin token the server wrote to its
data directory on first start (readable only by the user who runs it).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from urllib.parse import urlsplit

BOOTSTRAP_FILE = "admin.token"  # security/identity.py writes it; kept in step by a test
_LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}


def credentials_file() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(Path.home(), ".config")
    return Path(base) / "modeldepot" / "credentials.json"


def find_token(url: str, explicit: str | None) -> str | None:
    if explicit:
        return explicit
    stored = stored_token(url)
    if stored:
        return stored
    if urlsplit(url).hostname in _LOOPBACK:
        return _bootstrap_token()
    return None


def stored_token(url: str) -> str | None:
    """The token ``modeldepot login`` stored for ``url``, if any."""
    return stored_tokens().get(_key(url)) or None


def stored_tokens() -> dict[str, str]:
    try:
        data = json.loads(credentials_file().read_text())
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def store_token(url: str, token: str | None) -> Path:
    """Remember ``token`` for ``url`` (None forgets it), in a file only its owner reads."""
    path = credentials_file()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tokens = stored_tokens()
    if token is None:
        tokens.pop(_key(url), None)
    else:
        tokens[_key(url)] = token
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(tokens, out, indent=2, sort_keys=True)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    return path


def _key(url: str) -> str:
    return url.rstrip("/")


def _bootstrap_token() -> str | None:
    from modeldepot.config import ServerSettings

    try:
        data_dir = ServerSettings.from_env().data_dir
        text = (data_dir / BOOTSTRAP_FILE).read_text().strip()
    except (OSError, ValueError):
        return None
    return text or None
