"""In-memory models through the registry: ``push_model``, ``load`` and ``verify``.

``push_model`` serialises a scikit-learn, PyTorch or ONNX model, records its format,
signature and an input example with the output it gave, and pushes it like any
directory. ``load`` gives the object back; ``verify`` runs the stored example again
and compares, and lists the packages that differ from the environment the version
was made in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modeldepot.errors import InvalidInput
from modeldepot.refs import Ref

if TYPE_CHECKING:
    from modeldepot.client.progress import Progress
    from modeldepot.environment import PackageDifference
    from modeldepot.schemas.lineage import DatasetUse, LineageRead
    from modeldepot.schemas.versions import VersionRead


@dataclass(frozen=True)
class VerifyReport:
    """What ``verify`` found: whether the model reproduces its example, and drift."""

    ref: str
    matches: bool
    detail: str
    max_abs_diff: float | None
    packages: list[PackageDifference] = field(default_factory=list)
    environment_recorded: bool = True


class ObjectsMixin:
    if TYPE_CHECKING:

        def push(self, path: str | Path, name: str, **kwargs: Any) -> VersionRead: ...
        def pull(
            self,
            ref: str | Ref,
            dest: str | Path,
            *,
            use_cache: bool = True,
            progress: Progress | None = None,
            allow_revoked: bool = False,
        ) -> VersionRead: ...
        def get_lineage(self, ref: str | Ref) -> LineageRead: ...

    def push_model(
        self,
        obj: Any,
        name: str,
        *,
        input_example: Any = None,
        description: str = "",
        tags: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
        metrics: Mapping[str, float] | None = None,
        datasets: Sequence[DatasetUse | Mapping[str, Any]] = (),
        derived_from: Sequence[str] = (),
        depends_on: Sequence[str] = (),
        card: str | Path | None = None,
        capture: bool = True,
        push_id: str | None = None,
        progress: Progress | None = None,
    ) -> VersionRead:
        """Serialise ``obj`` (scikit-learn, ``torch.nn.Module`` or state dict, ONNX) and
        push it as the next version of ``name``, with its format, signature and — when
        ``input_example`` is given — the example and the output it gives now.
        ``description`` and ``card`` describe the version, as in ``push``."""
        import tempfile

        from modeldepot.client.serialize import save_model
        from modeldepot.schemas.lineage import LineageWrite

        with tempfile.TemporaryDirectory(prefix="modeldepot-model-") as tmp:
            saved = save_model(obj, Path(tmp), input_example=input_example)
            lineage = LineageWrite(
                format=saved.format,
                signature=saved.signature,
                input_example=saved.input_example,
                output_example=saved.output_example,
            )
            return self.push(
                tmp,
                name,
                description=description,
                tags=tags,
                params=params,
                metrics=metrics,
                lineage=lineage,
                datasets=datasets,
                derived_from=derived_from,
                depends_on=depends_on,
                card=card,
                capture=capture,
                push_id=push_id,
                progress=progress,
            )

    def load(
        self,
        ref: str | Ref,
        *,
        allow_pickle: bool = False,
        trust: Sequence[str] = (),
        allow_revoked: bool = False,
    ) -> Any:
        """The model object of the version ``ref`` names, from its recorded format.

        Pickle-based formats run code while loading and need ``allow_pickle=True``;
        skops types outside scikit-learn, NumPy and SciPy must be named in ``trust``.
        A revoked version is refused (VersionRevoked) unless ``allow_revoked``; a
        deprecated one loads with a ``VersionStatusWarning`` naming its replacement.
        """
        lineage = self.get_lineage(ref)
        if lineage.format is None:
            raise InvalidInput(
                f"{lineage.model}:{lineage.number} has no recorded model format; "
                "pull its files instead"
            )
        return self._pull_and_load(lineage, allow_pickle, trust, allow_revoked)

    def _pull_and_load(
        self,
        lineage: LineageRead,
        allow_pickle: bool,
        trust: Sequence[str],
        allow_revoked: bool = False,
    ) -> Any:
        """Pull the version into a temporary directory and load it by its format."""
        from modeldepot.client.serialize import load_model

        assert lineage.format is not None
        import tempfile

        with tempfile.TemporaryDirectory(prefix="modeldepot-load-") as tmp:
            self.pull(f"{lineage.model}:{lineage.number}", tmp, allow_revoked=allow_revoked)
            return load_model(Path(tmp), lineage.format, allow_pickle=allow_pickle, trust=trust)

    def verify(
        self,
        ref: str | Ref,
        *,
        rtol: float = 1e-5,
        atol: float = 1e-8,
        allow_pickle: bool = False,
        trust: Sequence[str] = (),
    ) -> VerifyReport:
        """Pull and load ``ref``, run its stored input example and compare the output
        with the stored one; report packages that differ from the captured environment."""
        from modeldepot.client.capture.environment import installed_packages
        from modeldepot.client.serialize import predict
        from modeldepot.client.verify import compare_outputs
        from modeldepot.environment import package_differences

        lineage = self.get_lineage(ref)
        label = f"{lineage.model}:{lineage.number}"
        if lineage.format is None:
            raise InvalidInput(f"{label} has no recorded model format to load it with")
        if lineage.input_example is None or lineage.output_example is None:
            raise InvalidInput(
                f"{label} has no input example with an expected output; push it with "
                "push_model(..., input_example=...)"
            )
        model = self._pull_and_load(lineage, allow_pickle, trust)
        actual = predict(model, lineage.format, lineage.input_example, signature=lineage.signature)
        result = compare_outputs(lineage.output_example, actual, rtol=rtol, atol=atol)
        recorded = lineage.environment.packages if lineage.environment else {}
        drift = package_differences(recorded, installed_packages()) if recorded else []
        return VerifyReport(
            ref=label,
            matches=result.matches,
            detail=result.detail,
            max_abs_diff=result.max_abs_diff,
            packages=drift,
            environment_recorded=bool(recorded),
        )
