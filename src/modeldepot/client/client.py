"""``Client``: the Python SDK for one modeldepot server.

Every method maps to one REST call (``push`` and ``pull`` to a transfer) and raises the
domain errors of ``modeldepot.errors`` (``VersionNotFound``, ``ReferenceInvalid``, …).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from modeldepot.client.audit import AuditMixin
from modeldepot.client.cache import BlobCache
from modeldepot.client.credentials import find_token
from modeldepot.client.discovery import DiscoveryMixin
from modeldepot.client.http import Http
from modeldepot.client.identity import IdentityMixin
from modeldepot.client.lifecycle import LifecycleMixin
from modeldepot.client.objects import ObjectsMixin
from modeldepot.client.paths import alias_path, model_path, version_path
from modeldepot.client.policies import PoliciesMixin
from modeldepot.client.progress import NoProgress, Progress
from modeldepot.client.protections import ProtectionsMixin
from modeldepot.client.requests import RequestsMixin
from modeldepot.config import ClientSettings
from modeldepot.refs import Ref, RefKind, parse_ref, validate_name

# Schemas and transfers are imported by the methods that use them: a read command
# pays only for what it needs (see tests/test_startup.py).
if TYPE_CHECKING:
    from pydantic import BaseModel

    from modeldepot.schemas.aliases import AliasEventRead, AliasRead
    from modeldepot.schemas.lineage import DatasetUse, LineageWrite
    from modeldepot.schemas.models import ModelRead
    from modeldepot.schemas.versions import ManifestRead, VersionRead

M = TypeVar("M", bound="BaseModel")
Scalar = str | int | float | bool


class Client(
    DiscoveryMixin,
    ObjectsMixin,
    AuditMixin,
    IdentityMixin,
    RequestsMixin,
    LifecycleMixin,
    PoliciesMixin,
    ProtectionsMixin,
):
    """A connection to a modeldepot server (``url``, else ``MODELDEPOT_URL``, else local),
    authenticated with ``token`` (else found as ``client/credentials.py`` says)."""

    def __init__(
        self,
        url: str | None = None,
        *,
        token: str | None = None,
        cache_dir: str | Path | None = None,
        workers: int | None = None,
        timeout: float | None = None,
    ) -> None:
        self.settings = ClientSettings.from_env(
            url=url,
            token=token,
            cache_dir=cache_dir,
            transfer_workers=workers,
            timeout_seconds=timeout,
        )
        self.url = self.settings.url
        self.cache = BlobCache(self.settings.cache_dir)
        self.workers = self.settings.transfer_workers
        self.http = Http(
            self.url,
            token=find_token(self.url, self.settings.token),
            timeout=self.settings.timeout_seconds,
            pool=max(16, self.workers * 2),
            presigned=self.settings.use_presigned_urls,
        )

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # Models ---------------------------------------------------------------------------

    def create_model(
        self,
        name: str,
        *,
        description: str = "",
        tags: Mapping[str, str] | None = None,
        owner: str | None = None,
        contacts: Sequence[str] = (),
        risk_level: str | None = None,
        risk_reason: str = "",
    ) -> ModelRead:
        from modeldepot.schemas.models import ModelRead

        body = {
            "name": validate_name(name),
            "description": description,
            "tags": dict(tags or {}),
            "owner": owner,
            "contacts": list(contacts),
            "risk_level": risk_level,
            "risk_reason": risk_reason,
        }
        return self._call(ModelRead, "POST", "/models", json=body)

    def get_model(self, name: str, *, include_deleted: bool = False) -> ModelRead:
        from modeldepot.schemas.models import ModelRead

        return self._call(
            ModelRead, "GET", model_path(name), params={"include_deleted": include_deleted or None}
        )

    def list_models(
        self, *, prefix: str | None = None, include_deleted: bool = False, limit: int | None = None
    ) -> list[ModelRead]:
        """Models ordered by name (all of them, or the first ``limit``)."""
        from modeldepot.schemas.models import ModelRead

        params = {"prefix": prefix, "include_deleted": include_deleted or None}
        return list(self._pages(ModelRead, "/models", params, limit))

    def update_model(
        self,
        name: str,
        *,
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
        remove_tags: Sequence[str] = (),
        owner: str | None = None,
        contacts: Sequence[str] | None = None,
        risk_level: str | None = None,
        risk_reason: str | None = None,
    ) -> ModelRead:
        """Change what is given; ``owner=""`` clears the owner."""
        from modeldepot.schemas.models import ModelRead

        body: dict[str, Any] = {
            "description": description,
            "tags": dict(tags or {}),
            "remove_tags": list(remove_tags),
        }
        given = {
            "owner": owner,
            "contacts": list(contacts) if contacts is not None else None,
            "risk_level": risk_level,
            "risk_reason": risk_reason,
        }
        body.update({k: v for k, v in given.items() if v is not None})
        return self._call(ModelRead, "PATCH", model_path(name), json=body)

    def delete_model(self, name: str) -> ModelRead:
        from modeldepot.schemas.models import ModelRead

        return self._call(ModelRead, "DELETE", model_path(name))

    def restore_model(self, name: str) -> ModelRead:
        from modeldepot.schemas.models import ModelRead

        return self._call(ModelRead, "POST", f"{model_path(name)}/-/restore")

    def set_model_tag(self, name: str, key: str, value: str) -> ModelRead:
        from modeldepot.schemas.models import ModelRead

        return self._call(
            ModelRead, "PUT", f"{model_path(name)}/-/tags/{key}", json={"value": value}
        )

    def delete_model_tag(self, name: str, key: str) -> ModelRead:
        from modeldepot.schemas.models import ModelRead

        return self._call(ModelRead, "DELETE", f"{model_path(name)}/-/tags/{key}")

    # Versions ---------------------------------------------------------------------------

    def push(
        self,
        path: str | Path,
        name: str,
        *,
        description: str = "",
        tags: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
        metrics: Mapping[str, float] | None = None,
        exclude: Sequence[str] = (),
        follow_symlinks: bool = False,
        push_id: str | None = None,
        progress: Progress | None = None,
        lineage: LineageWrite | Mapping[str, Any] | None = None,
        datasets: Sequence[DatasetUse | Mapping[str, Any]] = (),
        derived_from: Sequence[str] = (),
        depends_on: Sequence[str] = (),
        card: str | Path | None = None,
        capture: bool = True,
        entry_point: str | None = None,
        container_image: str | None = None,
        aliases: Sequence[str] = (),
    ) -> VersionRead:
        """Publish the file or directory at ``path`` as the next version of ``name``.

        ``aliases`` are pointed at the new version by the same commit: the version and
        its aliases land together or not at all.

        Only blobs the server lacks are sent; pushing unchanged content again transfers
        no file bytes. The version exists once this returns, and not before.

        Paths the server would refuse (see ``modeldepot.manifest``) are refused before
        anything is sent. A symbolic link in the directory that leads outside it raises
        SymlinkOutside unless ``follow_symlinks``, which pushes what every link points
        at, links to directories included.

        Lineage: ``params`` may nest (the configuration as written); ``datasets``,
        ``derived_from``/``depends_on`` (references to other versions) and anything in
        ``lineage`` are recorded with the version. With ``capture`` (the default) the
        git checkout of the working directory, the Python environment and the model
        format are captured unless given; capture never fails a push.

        ``description`` and ``card`` describe this version (``get_version_card``); the
        model's own are set with ``update_model`` and ``set_card``.
        """
        from modeldepot.client import push as push_mod
        from modeldepot.client.discovery import build_lineage, read_card
        from modeldepot.client.formats import detect_format
        from modeldepot.schemas.versions import VersionCreate

        record = build_lineage(
            lineage,
            datasets=datasets,
            derived_from=derived_from,
            depends_on=depends_on,
            capture=capture,
            entry_point=entry_point,
            container_image=container_image or self.settings.container_image,
        )
        data = VersionCreate(
            files=[],
            description=description,
            tags=dict(tags or {}),
            params=dict(params or {}),
            metrics=dict(metrics or {}),
            lineage=record,
            card=read_card(card),
            push_id=push_id,
            aliases=list(aliases),
        )
        return push_mod.push(
            self.http,
            Path(path),
            validate_name(name),
            data,
            exclude=exclude,
            follow_symlinks=follow_symlinks,
            workers=self.workers,
            progress=progress or NoProgress(),
            detect_format=detect_format if capture and record.format is None else None,
        )

    def pull(
        self,
        ref: str | Ref,
        dest: str | Path,
        *,
        use_cache: bool = True,
        progress: Progress | None = None,
        allow_revoked: bool = False,
    ) -> VersionRead:
        """Download the version ``ref`` names into ``dest``; every file is verified.

        A revoked version is refused (VersionRevoked) unless ``allow_revoked``; a
        deprecated one (or a revoked one allowed) is pulled with a
        ``VersionStatusWarning`` saying why and naming its replacement."""
        from modeldepot.client import pull as pull_mod
        from modeldepot.client.lifecycle import warn_status

        version = self.get_version(ref)
        manifest = self.get_manifest(
            f"{version.model}:{version.number}", allow_revoked=allow_revoked
        )
        warn_status(version)
        pull_mod.pull(
            self.http,
            manifest,
            Path(dest),
            cache=self.cache if use_cache else None,
            workers=self.workers,
            progress=progress or NoProgress(),
            direct_io=self.settings.pull_direct_io,
        )
        self._record_pull(version)
        return version

    def get_version(self, ref: str | Ref, *, include_deleted: bool = False) -> VersionRead:
        """The version any reference names (``name``, ``name:7``, ``name@alias``, …)."""
        from modeldepot.schemas.versions import VersionRead

        parsed = parse_ref(ref) if isinstance(ref, str) else ref
        params = {"ref": str(parsed), "include_deleted": include_deleted or None}
        return self._call(VersionRead, "GET", "/resolve", params=params)

    resolve = get_version

    def list_versions(
        self, name: str, *, include_deleted: bool = False, limit: int | None = None
    ) -> list[VersionRead]:
        """Versions of ``name``, newest first."""
        from modeldepot.schemas.versions import VersionRead

        params = {"include_deleted": include_deleted or None}
        return list(self._pages(VersionRead, f"{model_path(name)}/-/versions", params, limit))

    def get_manifest(
        self, ref: str | Ref, *, include_deleted: bool = False, allow_revoked: bool = False
    ) -> ManifestRead:
        """The files of a version; a revoked one's only with ``allow_revoked``."""
        from modeldepot.schemas.versions import ManifestRead

        name, number = self._numbered(ref, include_deleted=include_deleted)
        params = {
            "include_deleted": include_deleted or None,
            "allow_revoked": allow_revoked or None,
        }
        return self._call(
            ManifestRead, "GET", f"{version_path(name, number)}/manifest", params=params
        )

    def delete_version(self, ref: str | Ref) -> VersionRead:
        from modeldepot.schemas.versions import VersionRead

        name, number = self._numbered(ref)
        return self._call(VersionRead, "DELETE", version_path(name, number))

    def restore_version(self, ref: str | Ref) -> VersionRead:
        from modeldepot.schemas.versions import VersionRead

        name, number = self._numbered(ref, include_deleted=True)
        return self._call(VersionRead, "POST", f"{version_path(name, number)}/restore")

    def set_version_tag(self, ref: str | Ref, key: str, value: str) -> VersionRead:
        from modeldepot.schemas.versions import VersionRead

        name, number = self._numbered(ref)
        return self._call(
            VersionRead,
            "PUT",
            f"{version_path(name, number)}/tags/{key}",
            json={"value": value},
        )

    def delete_version_tag(self, ref: str | Ref, key: str) -> VersionRead:
        from modeldepot.schemas.versions import VersionRead

        name, number = self._numbered(ref)
        return self._call(VersionRead, "DELETE", f"{version_path(name, number)}/tags/{key}")

    # Aliases ----------------------------------------------------------------------------

    def set_alias(
        self, name: str, alias: str, version: int, *, expected_version: int | None = None
    ) -> AliasRead:
        """Point ``alias`` at ``version``; with ``expected_version`` only if it is there now."""
        from modeldepot.schemas.aliases import AliasRead

        body = {"version": version, "expected_version": expected_version}
        return self._call(AliasRead, "PUT", alias_path(name, alias), json=body)

    move_alias = set_alias

    def get_alias(self, name: str, alias: str) -> AliasRead:
        from modeldepot.schemas.aliases import AliasRead

        return self._call(AliasRead, "GET", alias_path(name, alias))

    def delete_alias(self, name: str, alias: str) -> None:
        self.http.request("DELETE", alias_path(name, alias))

    def list_aliases(self, name: str) -> list[AliasRead]:
        from modeldepot.schemas.aliases import AliasRead

        return list(self._pages(AliasRead, f"{model_path(name)}/-/aliases", {}, None))

    def alias_history(
        self, name: str, alias: str | None = None, *, limit: int | None = None
    ) -> list[AliasEventRead]:
        """Alias changes, newest first: of one alias, or of every alias of the model."""
        from modeldepot.schemas.aliases import AliasEventRead

        path = (
            f"{alias_path(name, alias)}/history" if alias else f"{model_path(name)}/-/alias-history"
        )
        return list(self._pages(AliasEventRead, path, {}, limit))

    # Raw JSON ---------------------------------------------------------------------------

    def get_json(self, path: str, params: dict[str, Any] | None = None) -> Any:
        """The JSON document of ``GET /api/v1{path}``, as the server wrote it.

        For callers that only display what they read (the CLI's list and show
        commands): no SDK model is built, so pydantic is not even imported, which is
        most of a short command's start-up. Problems raise their domain errors as
        everywhere else."""
        return self.http.request("GET", path, params=params).json()

    def iter_json(
        self, path: str, params: dict[str, Any] | None = None, *, limit: int | None = None
    ) -> Iterator[dict[str, Any]]:
        """The items of a paginated ``GET /api/v1{path}``, every page (or the first
        ``limit`` items), as JSON objects."""
        cursor: str | None = None
        produced = 0
        while True:
            page_size = min(1000, limit - produced) if limit else 200
            page = self.get_json(path, {**(params or {}), "cursor": cursor, "limit": page_size})
            for item in page["items"]:
                yield item
                produced += 1
            cursor = page.get("next_cursor")
            if cursor is None or (limit and produced >= limit):
                return

    # Plumbing ---------------------------------------------------------------------------

    def _call(self, schema: type[M], method: str, path: str, **kwargs: Any) -> M:
        return schema.model_validate(self.http.request(method, path, **kwargs).json())

    def _pages(
        self, schema: type[M], path: str, params: dict[str, Any], limit: int | None
    ) -> Iterator[M]:
        for item in self.iter_json(path, params, limit=limit):
            yield schema.model_validate(item)

    def _numbered(self, ref: str | Ref, *, include_deleted: bool = False) -> tuple[str, int]:
        """(name, number) of ``ref``, resolving aliases, digests and ``latest`` first."""
        parsed = parse_ref(ref) if isinstance(ref, str) else ref
        if parsed.kind is RefKind.NUMBER and parsed.number is not None:
            return parsed.name, parsed.number
        version = self.get_version(parsed, include_deleted=include_deleted)
        return version.model, version.number
