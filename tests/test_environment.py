"""Recorded environments (``modeldepot.environment``): requirements files and differences."""

from __future__ import annotations

import pytest

from modeldepot.environment import (
    PackageDifference,
    normalize_name,
    normalize_packages,
    package_differences,
    requirements_text,
)
from modeldepot.schemas.lineage import EnvironmentInfo


@pytest.mark.parametrize(
    ("name", "normal"),
    [
        ("scikit-learn", "scikit-learn"),
        ("Scikit_Learn", "scikit-learn"),
        ("PyYAML", "pyyaml"),
        ("zope.interface", "zope-interface"),
        ("a-._b", "a-b"),
    ],
)
def test_normalize_name(name: str, normal: str) -> None:
    assert normalize_name(name) == normal


def test_normalize_packages_is_sorted_and_independent_of_order() -> None:
    forward = normalize_packages({"PyYAML": "6.0", "numpy": "2.0", "pyyaml": "5.4"})
    backward = normalize_packages({"pyyaml": "5.4", "numpy": "2.0", "PyYAML": "6.0"})
    assert forward == backward == {"numpy": "2.0", "pyyaml": "6.0"}
    assert list(forward) == ["numpy", "pyyaml"]


def test_requirements_text_pins_every_package_sorted() -> None:
    env = EnvironmentInfo(
        python="3.11.7",
        implementation="CPython",
        platform="Linux-6.8-x86_64-with-glibc2.36",
        packages={"torch": "2.3.1+cu121", "Scikit_Learn": "1.5.0", "numpy": "1.26.4"},
        container_image="ghcr.io/acme/train:1.4",
    )
    assert requirements_text(env) == (
        "# Requirements recorded by modeldepot.\n"
        "# Python: CPython 3.11.7\n"
        "# Platform: Linux-6.8-x86_64-with-glibc2.36\n"
        "# Container image: ghcr.io/acme/train:1.4\n"
        "numpy==1.26.4\n"
        "scikit-learn==1.5.0\n"
        "torch==2.3.1+cu121\n"
    )


def test_requirements_text_of_an_empty_environment() -> None:
    assert requirements_text(EnvironmentInfo()) == "# Requirements recorded by modeldepot.\n"


def test_requirements_text_cannot_be_injected() -> None:
    env = EnvironmentInfo(
        platform="Linux\n--index-url https://evil.example.com",
        packages={
            "good": "1.0",
            "evil": "1.0\n--extra-index-url https://evil.example.com",
            "bad name; os_name=='nt'": "1.0",
            "spaced": "1.0 ",
            "epoch": "1!2.0.post1",
        },
    )
    text = requirements_text(env)
    assert [line for line in text.splitlines() if not line.startswith("#")] == [
        "epoch==1!2.0.post1",
        "good==1.0",
    ]
    assert "# Left out 3 entries that are not a valid name and version." in text
    assert "# Platform: Linux --index-url https://evil.example.com" in text


def test_package_differences_lists_changed_missing_and_extra_packages() -> None:
    recorded = {"numpy": "1.26.4", "Scikit_Learn": "1.5.0", "torch": "2.3.1", "pandas": "2.2.2"}
    current = {"numpy": "2.0.0", "scikit-learn": "1.5.0", "pandas": "2.2.2", "polars": "1.0.0"}
    assert package_differences(recorded, current) == [
        PackageDifference("numpy", "1.26.4", "2.0.0"),
        PackageDifference("polars", None, "1.0.0"),
        PackageDifference("torch", "2.3.1", None),
    ]


def test_no_differences_between_equal_environments() -> None:
    packages = {"numpy": "1.26.4", "PyYAML": "6.0.1"}
    assert package_differences(packages, {"pyyaml": "6.0.1", "numpy": "1.26.4"}) == []
    assert package_differences({}, {}) == []
