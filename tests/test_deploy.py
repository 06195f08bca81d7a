"""The deployment files (Dockerfile, docker-compose.yml, deploy/) agree with the code.

Docker cannot run on the test machines, so these check what can drift: every setting
they name exists, probes hit endpoints the server serves, replicas never migrate, the
proxy's upstreams are the compose services, and the wheel the image installs carries
the migrations.
"""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from dataclasses import fields
from pathlib import Path

import pytest
import yaml

from modeldepot.config import ClientSettings, ServerSettings

ROOT = Path(__file__).resolve().parent.parent
DEPLOY_FILES = [
    ROOT / "Dockerfile",
    ROOT / "docker-compose.yml",
    ROOT / "deploy" / "nginx.conf",
    *sorted((ROOT / "deploy" / "k8s").glob("*.yaml")),
]
SETTINGS = {
    f"MODELDEPOT_{f.name.upper()}" for cls in (ServerSettings, ClientSettings) for f in fields(cls)
}


def _k8s_documents() -> list[dict]:
    docs: list[dict] = []
    for path in sorted((ROOT / "deploy" / "k8s").glob("*.yaml")):
        docs.extend(doc for doc in yaml.safe_load_all(path.read_text()) if doc)
    return docs


def _compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


@pytest.mark.parametrize("path", DEPLOY_FILES, ids=lambda p: p.name)
def test_every_setting_named_exists(path: Path) -> None:
    named = set(re.findall(r"\bMODELDEPOT_[A-Z0-9_]+", path.read_text()))
    assert named <= SETTINGS, f"{path.name} names unknown settings: {sorted(named - SETTINGS)}"


def test_k8s_probes_hit_the_servers_health_endpoints(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from modeldepot.server.app import create_app

    deployment = next(d for d in _k8s_documents() if d["kind"] == "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    probes = [container[p]["httpGet"]["path"] for p in ("livenessProbe", "readinessProbe")]
    assert probes == ["/healthz", "/readyz"]
    with TestClient(create_app(ServerSettings(data_dir=tmp_path))) as server:
        for path in probes:
            assert server.get(path).status_code == 200, path
    grace = deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    assert grace > 30  # the server drains in-flight requests for up to 30 s


def test_k8s_replicas_never_migrate_and_the_job_does() -> None:
    docs = _k8s_documents()
    config = next(d for d in docs if d["kind"] == "ConfigMap")
    assert config["data"]["MODELDEPOT_AUTO_MIGRATE"] == "false"
    job = next(d for d in docs if d["kind"] == "Job")
    assert job["spec"]["template"]["spec"]["containers"][0]["args"] == ["db", "upgrade"]
    for doc in docs:
        spec = doc.get("spec", {}).get("template", {}).get("spec")
        if spec is not None:
            assert spec["securityContext"]["runAsNonRoot"] is True


def test_compose_runs_two_replicas_behind_the_proxy_on_one_database_and_bucket() -> None:
    services = _compose()["services"]
    replicas = [name for name in services if name.startswith("modeldepot-")]
    assert len(replicas) == 2
    envs = [services[name]["environment"] for name in replicas]
    assert envs[0] == envs[1]
    assert envs[0]["MODELDEPOT_AUTO_MIGRATE"] == "false"
    assert envs[0]["MODELDEPOT_BLOBSTORE"] == "s3"
    assert envs[0]["MODELDEPOT_DATABASE_URL"].startswith("postgresql+psycopg://")
    assert services["migrate"]["command"] == ["db", "upgrade"]
    for name in replicas:
        condition = services[name]["depends_on"]["migrate"]["condition"]
        assert condition == "service_completed_successfully"
    nginx = (ROOT / "deploy" / "nginx.conf").read_text()
    assert sorted(re.findall(r"server (modeldepot-\w+):8470", nginx)) == sorted(replicas)
    assert "proxy_request_buffering off" in nginx and "client_max_body_size 0" in nginx


def test_dockerfile_is_multi_stage_and_runs_unprivileged() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert len(re.findall(r"^FROM ", text, re.M)) == 2
    user = re.findall(r"^USER (\S+)", text, re.M)
    assert user and user[-1] != "root"
    assert re.search(r'^ENTRYPOINT \["modeldepot"\]', text, re.M)


def test_the_wheel_the_image_installs_carries_the_migrations(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "--wheel-dir",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
    )
    (wheel,) = tmp_path.glob("modeldepot-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "modeldepot/db/migrations/env.py" in names
    assert "modeldepot/db/migrations/script.py.mako" in names
    assert any(re.match(r"modeldepot/db/migrations/versions/0001.*\.py$", n) for n in names)
    assert "modeldepot/py.typed" in names
