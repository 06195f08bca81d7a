"""The registry core: HTTP-free services over the database and the blob store."""

from __future__ import annotations

from modeldepot.blobstore.base import BlobStore
from modeldepot.config import ServerSettings
from modeldepot.db.engine import Database
from modeldepot.registry.aliases import AliasService
from modeldepot.registry.blobs import BlobService
from modeldepot.registry.compare import CompareService
from modeldepot.registry.datasets import DatasetService
from modeldepot.registry.found import FoundService
from modeldepot.registry.gc import GarbageCollector
from modeldepot.registry.inventory import InventoryService
from modeldepot.registry.lineage import LineageService
from modeldepot.registry.models import ModelService
from modeldepot.registry.unit import Units
from modeldepot.registry.uploads import UploadService
from modeldepot.registry.versions import VersionService
from modeldepot.security.authenticator import Authenticator
from modeldepot.security.identity import IdentityService


class Registry:
    """Every service, wired to one database and one blob store."""

    def __init__(self, db: Database, store: BlobStore, settings: ServerSettings) -> None:
        self.db = db
        self.store = store
        self.settings = settings
        self.units = Units(db)
        self.identity = IdentityService(db, self.units)
        self.authenticator = Authenticator(
            self.identity,
            cache_seconds=settings.auth_cache_seconds,
            max_failures=settings.auth_max_failures,
        )
        self.models = ModelService(self.units)
        self.versions = VersionService(self.units)
        self.aliases = AliasService(self.units)
        self.lineage = LineageService(self.units)
        self.datasets = DatasetService(self.units)
        self.inventory = InventoryService(self.units)
        self.compare = CompareService(self.units)
        self.found = FoundService(self.units)
        self.uploads = UploadService(
            self.units,
            store,
            expiry_seconds=settings.upload_expiry_seconds,
            presigned=settings.presigned_transfers,
            presign_expiry_seconds=settings.presign_expiry_seconds,
            max_staged_bytes=settings.max_staged_bytes,
        )
        self.blobs = BlobService(
            self.units,
            store,
            presigned=self.uploads.presigned,
            presign_expiry_seconds=settings.presign_expiry_seconds,
        )
        # Imported here: the audit services import registry modules themselves.
        from modeldepot.audit.checkpoints import Checkpointer
        from modeldepot.audit.service import AuditService
        from modeldepot.audit.stream import EventService

        checkpointer = Checkpointer(
            db, settings.resolved_audit_key_file, every=settings.audit_checkpoint_records
        )
        self.units.append_hooks.append(checkpointer.after_append)
        self.audit = AuditService(self.units, checkpointer)
        self.events = EventService(self.units)
        from modeldepot.governance.protection import ProtectionService

        self.protection = ProtectionService(self.units)
        from modeldepot.governance.checks import CheckService
        from modeldepot.governance.followers import RequestFollowers
        from modeldepot.governance.request_reads import RequestReader
        from modeldepot.governance.requests import RequestService
        from modeldepot.registry.metrics import MetricService

        self.metrics = MetricService(self.units)
        self.requests = RequestService(self.units)
        self.request_reads = RequestReader(self.units, self.compare)
        self.checks = CheckService(self.units, self.requests)
        self.request_followers = RequestFollowers(self.units, self.requests)
        from modeldepot.governance.lifecycle import LifecycleService

        # Revocation by dataset opens rollback requests for the protected aliases.
        self.lifecycle = LifecycleService(self.units, open_rollback=self.requests.open_rollback)
        from modeldepot.governance.freezes import FreezeService
        from modeldepot.governance.policy_service import PolicyService

        self.policies = PolicyService(self.units)
        self.freezes = FreezeService(self.units)
        self.gc = GarbageCollector(
            self.units, store, self.uploads, grace_seconds=settings.gc_grace_seconds
        )
        self._subscribe()

    def _subscribe(self) -> None:
        """The in-transaction follow-ups of changes (see ``registry/unit.py``)."""
        from modeldepot.governance.protection import guard_protected_aliases
        from modeldepot.registry.aliases import keep_alias_history
        from modeldepot.registry.models import index_model_change
        from modeldepot.registry.versions import index_new_version_change, index_version_change

        for action in ("alias.set", "alias.delete"):
            self.units.subscribe(action, guard_protected_aliases)
            self.units.subscribe(action, keep_alias_history)
        self.request_followers.subscribe()
        for action in (
            "model.create",
            "model.update",
            "model.tag.set",
            "model.tag.delete",
            "model.card.set",
        ):
            self.units.subscribe(action, index_model_change)
        self.units.subscribe("version.create", index_new_version_change)
        for action in ("version.tag.set", "version.tag.delete"):
            self.units.subscribe(action, index_version_change)

    @classmethod
    def from_settings(cls, settings: ServerSettings, *, migrate: bool | None = None) -> Registry:
        """Open the configured database and blob store.

        The schema must be at the code's head: an older one is migrated if asked or
        configured, else SchemaMismatch; a newer one is always SchemaMismatch.
        """
        from modeldepot.blobstore.factory import create_blobstore
        from modeldepot.db.migrate import check_schema

        db = Database(
            settings.resolved_database_url,
            prepared=settings.prepared_statements,
            checkpointer=settings.sqlite_checkpointer,
        )
        try:
            check_schema(db.engine, migrate=settings.auto_migrate if migrate is None else migrate)
        except BaseException:
            db.dispose()
            raise
        return cls(db, create_blobstore(settings), settings)

    def close(self) -> None:
        self.db.dispose()
