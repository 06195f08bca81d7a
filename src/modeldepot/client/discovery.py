"""The SDK's lineage and discovery calls: search, datasets, inventory, diff, cards.

``DiscoveryMixin`` is part of ``Client``; each method is one REST call (or a walk over
the pages of one list).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from modeldepot.client.paths import model_path, version_path
from modeldepot.errors import LineageInvalid, ModeldepotError
from modeldepot.refs import Ref, parse_ref

# Schemas are imported where they are used: a command pays for the ones it needs.
if TYPE_CHECKING:
    from pydantic import BaseModel

    from modeldepot.client.http import Http
    from modeldepot.schemas.compare import LineageGraph, VersionDiff
    from modeldepot.schemas.datasets import AliasImpact, DatasetUsage
    from modeldepot.schemas.inventory import Inventory
    from modeldepot.schemas.lineage import DatasetRead, DatasetUse, LineageRead, LineageWrite
    from modeldepot.schemas.models import CardRead, ModelRead
    from modeldepot.schemas.versions import VersionRead

M = TypeVar("M", bound="BaseModel")
log = logging.getLogger("modeldepot.client")


def build_lineage(
    lineage: LineageWrite | Mapping[str, Any] | None,
    *,
    datasets: Sequence[DatasetUse | Mapping[str, Any]] = (),
    derived_from: Sequence[str] = (),
    depends_on: Sequence[str] = (),
    capture: bool = True,
    entry_point: str | None = None,
    container_image: str | None = None,
) -> LineageWrite:
    """The lineage a push records: what was given, completed by capture when asked.

    Raises LineageInvalid (one line naming the field) for malformed lineage.
    """
    from pydantic import ValidationError

    from modeldepot.schemas.lineage import CodeInfo, DatasetUse, EnvironmentInfo, LineageWrite

    try:
        record = (
            lineage.model_copy(deep=True)
            if isinstance(lineage, LineageWrite)
            else LineageWrite.model_validate(dict(lineage or {}))
        )
        record.datasets.extend(
            d if isinstance(d, DatasetUse) else DatasetUse.model_validate(dict(d)) for d in datasets
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "lineage"
        raise LineageInvalid(f"lineage: {where}: {first['msg']}") from None
    record.derived_from.extend(str(parse_ref(r)) for r in derived_from)
    record.depends_on.extend(str(parse_ref(r)) for r in depends_on)
    if capture:
        from modeldepot.client.capture.code import capture_code
        from modeldepot.client.capture.environment import capture_environment

        if record.code is None:
            record.code = capture_code(entry_point=entry_point)
        if record.environment is None:
            record.environment = capture_environment(container_image=container_image)
    # What the caller names explicitly is recorded even without capture; a given
    # environment or code block keeps what it already says.
    if entry_point is not None:
        if record.code is None:
            record.code = CodeInfo(entry_point=entry_point)
        elif record.code.entry_point is None:
            record.code.entry_point = entry_point
    if container_image:
        if record.environment is None:
            record.environment = EnvironmentInfo(container_image=container_image)
        elif record.environment.container_image is None:
            record.environment.container_image = container_image
    return record


def read_card(card: str | Path | None) -> str | None:
    """A card given as text, or as the path of a Markdown file."""
    if card is None:
        return None
    if isinstance(card, Path):
        return card.read_text(encoding="utf-8")
    return card


class DiscoveryMixin:
    http: Http

    if TYPE_CHECKING:

        def _call(self, schema: type[M], method: str, path: str, **kwargs: Any) -> M: ...
        def _pages(
            self, schema: type[M], path: str, params: dict[str, Any], limit: int | None
        ) -> Iterator[M]: ...
        def _numbered(
            self, ref: str | Ref, *, include_deleted: bool = False
        ) -> tuple[str, int]: ...

    # Search ----------------------------------------------------------------------------

    def search_models(
        self,
        query: str = "",
        *,
        sort: str | None = None,
        include_deleted: bool = False,
        limit: int | None = None,
    ) -> list[ModelRead]:
        """Models matching ``query`` (see docs/query-language.md), every page."""
        from modeldepot.schemas.models import ModelRead

        params = {"q": query, "sort": sort, "include_deleted": include_deleted or None}
        return list(self._pages(ModelRead, "/search/models", params, limit))

    def search_versions(
        self,
        query: str = "",
        *,
        sort: str | None = None,
        include_deleted: bool = False,
        limit: int | None = None,
    ) -> list[VersionRead]:
        """Versions matching ``query``, e.g. ``metrics.auc > 0.9 AND tags.team = ads``."""
        from modeldepot.schemas.versions import VersionRead

        params = {"q": query, "sort": sort, "include_deleted": include_deleted or None}
        return list(self._pages(VersionRead, "/search/versions", params, limit))

    # Lineage ---------------------------------------------------------------------------

    def get_lineage(self, ref: str | Ref) -> LineageRead:
        from modeldepot.schemas.lineage import LineageRead

        name, number = self._numbered(ref, include_deleted=True)
        return self._call(LineageRead, "GET", f"{version_path(name, number)}/lineage")

    def add_relation(self, ref: str | Ref, kind: str, target: str) -> LineageRead:
        """Record that ``ref`` was ``derived_from`` or ``depends_on`` the version ``target``."""
        from modeldepot.schemas.lineage import LineageRead

        name, number = self._numbered(ref)
        body = {"kind": kind, "target": str(parse_ref(target))}
        return self._call(LineageRead, "POST", f"{version_path(name, number)}/relations", json=body)

    def remove_relation(self, ref: str | Ref, kind: str, target: str) -> LineageRead:
        from modeldepot.schemas.lineage import LineageRead

        name, number = self._numbered(ref)
        params = {"kind": kind, "target": str(parse_ref(target))}
        return self._call(
            LineageRead, "DELETE", f"{version_path(name, number)}/relations", params=params
        )

    def lineage_graph(self, ref: str | Ref, *, depth: int = 3) -> LineageGraph:
        from modeldepot.schemas.compare import LineageGraph

        params = {"ref": str(parse_ref(ref) if isinstance(ref, str) else ref), "depth": depth}
        return self._call(LineageGraph, "GET", "/lineage/graph", params=params)

    def requirements(self, ref: str | Ref) -> str:
        """A pip requirements file recreating the environment ``ref`` was captured in."""
        name, number = self._numbered(ref, include_deleted=True)
        return self.http.request("GET", f"{version_path(name, number)}/requirements").text

    def diff(self, a: str | Ref, b: str | Ref) -> VersionDiff:
        from modeldepot.schemas.compare import VersionDiff

        return self._call(VersionDiff, "GET", "/diff", params={"a": str(a), "b": str(b)})

    def resolve_at(self, ref: str | Ref, at: datetime | str) -> VersionRead:
        """The version ``ref`` named at the instant ``at`` (an alias: where it pointed)."""
        from modeldepot.schemas.versions import VersionRead

        when = at.isoformat() if isinstance(at, datetime) else at
        params = {"ref": str(ref), "at": when}
        return self._call(VersionRead, "GET", "/resolve", params=params)

    # Datasets --------------------------------------------------------------------------

    def list_datasets(
        self,
        *,
        uri_prefix: str | None = None,
        personal_data: bool | None = None,
        limit: int | None = None,
    ) -> list[DatasetRead]:
        from modeldepot.schemas.lineage import DatasetRead

        params = {"uri_prefix": uri_prefix, "personal_data": personal_data}
        return list(self._pages(DatasetRead, "/datasets", params, limit))

    def dataset_usage(
        self, uri: str, digest: str | None = None, *, include_deleted: bool = False
    ) -> list[DatasetUsage]:
        """Which versions used the dataset (every snapshot of ``uri`` unless ``digest``)?"""
        from modeldepot.schemas.datasets import DatasetUsage

        params = {"uri": uri, "digest": digest, "include_deleted": include_deleted or None}
        return list(self._pages(DatasetUsage, "/datasets/usage", params, None))

    def dataset_impact(self, uri: str, digest: str | None = None) -> list[AliasImpact]:
        """Which aliases point at versions that used the dataset?"""
        from modeldepot.schemas.datasets import AliasImpact

        response = self.http.request(
            "GET", "/datasets/impact", params={"uri": uri, "digest": digest}
        )
        return [AliasImpact.model_validate(item) for item in response.json()]

    # Inventory and cards ---------------------------------------------------------------

    def inventory(self, *, prefix: str | None = None) -> Inventory:
        from modeldepot.schemas.inventory import Inventory

        return self._call(Inventory, "GET", "/inventory", params={"prefix": prefix})

    def inventory_csv(self, *, prefix: str | None = None) -> str:
        params = {"prefix": prefix, "format": "csv"}
        return self.http.request("GET", "/inventory", params=params).text

    def get_card(self, name: str) -> CardRead:
        from modeldepot.schemas.models import CardRead

        return self._call(CardRead, "GET", f"{model_path(name)}/-/card")

    def set_card(self, name: str, card: str | Path) -> CardRead:
        from modeldepot.schemas.models import CardRead

        text = read_card(card)
        return self._call(CardRead, "PUT", f"{model_path(name)}/-/card", json={"card": text})

    def delete_card(self, name: str) -> CardRead:
        from modeldepot.schemas.models import CardRead

        return self._call(CardRead, "DELETE", f"{model_path(name)}/-/card")

    def get_version_card(self, ref: str | Ref) -> CardRead:
        from modeldepot.schemas.models import CardRead

        name, number = self._numbered(ref, include_deleted=True)
        return self._call(CardRead, "GET", f"{version_path(name, number)}/card")

    def _record_pull(self, version: VersionRead) -> None:
        """Tell the server about a pull (for the inventory); a failure only logs."""
        try:
            self.http.request("POST", f"{version_path(version.model, version.number)}/pulls")
        except ModeldepotError as exc:  # counting must never fail a pull
            log.debug("could not record the pull of %s: %s", version.ref, exc)
