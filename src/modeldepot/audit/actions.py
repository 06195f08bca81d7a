"""Every action the audit log and the event stream can name, with what it means.

The one table of event names: a unit of work refuses to record any other, and the
README's table is checked against this one by ``tests/test_docs.py``.
"""

from __future__ import annotations

ACTIONS: dict[str, str] = {
    "model.create": "A model was created (explicitly, or by the first push to it)",
    "model.update": "A model's description, owner, contacts or risk level changed",
    "model.tag.set": "A model tag was set",
    "model.tag.delete": "A model tag was removed",
    "model.card.set": "A model's card was replaced or removed",
    "model.delete": "A model was soft-deleted",
    "model.restore": "A soft-deleted model was restored",
    "version.create": "A version was committed",
    "version.tag.set": "A version tag was set",
    "version.tag.delete": "A version tag was removed",
    "version.delete": "A version was soft-deleted",
    "version.restore": "A soft-deleted version was restored",
    "relation.create": "A lineage relation between two versions was recorded",
    "relation.delete": "A lineage relation was removed",
    "alias.set": "An alias was created or moved",
    "alias.delete": "An alias was removed",
    "upload.complete": "An upload's bytes were verified and stored",
    "upload.abandon": "An upload session was cancelled or expired",
    "gc.run": "Garbage collection deleted unreferenced blobs",
    "user.create": "A user or service account was created",
    "user.update": "A user's display name, password or state changed",
    "user.delete": "A user or service account was deleted",
    "group.create": "A group was created",
    "group.delete": "A group was deleted",
    "group.member.add": "A principal joined a group",
    "group.member.remove": "A principal left a group",
    "grant.create": "A role was granted on a namespace prefix",
    "grant.delete": "A grant was removed",
    "token.create": "An API token was created (its secret is never recorded)",
    "token.revoke": "An API token was revoked",
}
