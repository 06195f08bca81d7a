"""Roles, permissions, and the one table saying which role each permission needs.

A role is granted on a namespace prefix and holds below it: ``contributor`` on ``ads``
covers ``ads/recommender`` and ``ads/vision/detector``. Roles are ordered; each one can
do everything the ones below it can. ``admin`` on the root (``""``, shown as ``/``) is
the registry admin.
"""

from __future__ import annotations

from enum import IntEnum, StrEnum

from modeldepot.errors import InvalidInput


class Role(IntEnum):
    READER = 1
    CONTRIBUTOR = 2
    MAINTAINER = 3
    ADMIN = 4

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Role:
        try:
            return cls[text.strip().upper()]
        except KeyError:
            choices = ", ".join(r.label for r in cls)
            raise InvalidInput(f"role {text!r} does not exist (one of: {choices})") from None


class Permission(StrEnum):
    """``<resource>:<action>``: what a route or a service call needs."""

    MODEL_READ = "model:read"  # find, resolve, pull, lineage, diff, events
    MODEL_CREATE = "model:create"
    VERSION_CREATE = "version:create"  # push: upload blobs, commit a version
    METADATA_EDIT = "metadata:edit"  # descriptions, tags, cards, relations
    MODEL_MANAGE = "model:manage"  # owner, contacts, risk level
    ALIAS_MOVE = "alias:move"
    DELETE = "model:delete"  # soft-delete and restore models and versions
    GRANT_MANAGE = "grant:manage"  # grants below the granter's own role
    AUDIT_READ = "audit:read"
    REQUEST_OPEN = "request:open"  # open, cancel one's own, comment, apply when passing
    REQUEST_REVIEW = "request:review"  # approve or reject (also needs a required group)
    CHECK_POST = "check:post"  # post an external check result on a version
    VERSION_STATUS = "version:status"  # deprecate, revoke, reinstate
    ALIAS_PROTECT = "alias:protect"  # protect an alias of a model
    GOVERNANCE_ADMIN = "governance:admin"  # policies, prefix protections, freezes, waivers
    REGISTRY_ADMIN = "registry:admin"  # users, groups, gc, audit verification
    # Acting on one's own account (whoami, one's own tokens): any authenticated caller.
    SELF = "account:self"


NEEDS: dict[Permission, Role] = {
    Permission.MODEL_READ: Role.READER,
    Permission.MODEL_CREATE: Role.CONTRIBUTOR,
    Permission.VERSION_CREATE: Role.CONTRIBUTOR,
    Permission.METADATA_EDIT: Role.CONTRIBUTOR,
    Permission.MODEL_MANAGE: Role.MAINTAINER,
    Permission.ALIAS_MOVE: Role.MAINTAINER,
    Permission.DELETE: Role.MAINTAINER,
    Permission.GRANT_MANAGE: Role.MAINTAINER,
    Permission.AUDIT_READ: Role.MAINTAINER,
    Permission.REQUEST_OPEN: Role.CONTRIBUTOR,
    Permission.REQUEST_REVIEW: Role.READER,
    Permission.CHECK_POST: Role.CONTRIBUTOR,
    Permission.VERSION_STATUS: Role.MAINTAINER,
    Permission.ALIAS_PROTECT: Role.MAINTAINER,
    Permission.GOVERNANCE_ADMIN: Role.ADMIN,
    Permission.REGISTRY_ADMIN: Role.ADMIN,
    Permission.SELF: Role.READER,  # never checked on a namespace: see server/auth.py
}

# Permissions that create something: refusing them says "forbidden" whether or not the
# thing exists, so it reveals nothing; refusing any other to someone who cannot read
# the name says "not found", as if the model did not exist.
CREATES = frozenset({Permission.MODEL_CREATE, Permission.VERSION_CREATE})


def normalize_prefix(text: str) -> str:
    """A namespace prefix as stored: no leading or trailing slash; the root is ``""``.

    ``ads/``, ``/ads`` and ``ads`` are one prefix; ``/`` is the root.
    """
    prefix = text.strip().strip("/")
    if any(not part for part in prefix.split("/")) and prefix:
        raise InvalidInput(f"namespace prefix {text!r} has an empty segment")
    if len(prefix) > 200:
        raise InvalidInput("a namespace prefix is at most 200 characters")
    return prefix


def show_prefix(prefix: str) -> str:
    """How a stored prefix is shown: ``/`` for the root, else with a trailing slash."""
    return prefix + "/" if prefix else "/"


def covers(prefix: str, name: str) -> bool:
    """Whether a grant on ``prefix`` holds for the model (or prefix) ``name``."""
    return not prefix or name == prefix or name.startswith(prefix + "/")
