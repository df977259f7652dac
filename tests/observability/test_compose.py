"""docker-compose.yml, service/Dockerfile and .dockerignore: static checks.

``docker-compose config`` needs docker-compose (or the ``docker compose`` plugin);
without it that test is skipped, or fails when ``CI=true``. Everything else only
parses files.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from observability_tools import COMPOSE_HINT, missing_tool

REPO_ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
DOCKERFILE = REPO_ROOT / "service" / "Dockerfile"
DOCKERIGNORE = REPO_ROOT / ".dockerignore"

PUBLIC_SERVICES = {"api", "grafana", "jupyter"}
LOOPBACK = {"127.0.0.1", "::1", "localhost"}
CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}
# Written by another change; until it lands the compose file already refers to it.
PENDING_FILES = {"jupyter/Dockerfile"}
DUMMY_SECRETS = {"GRAFANA_ADMIN_PASSWORD": "test-password", "JUPYTER_TOKEN": "test-token"}


def compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))


SERVICES = compose()["services"]


def compose_command() -> list[str]:
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, timeout=30)
        if probe.returncode == 0:
            return ["docker", "compose"]
    missing_tool(f"docker-compose not found; install it with: {COMPOSE_HINT}")


def run_compose(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*compose_command(), "-f", str(COMPOSE_FILE), *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in DUMMY_SECRETS}
    env.pop("COMPOSE_FILE", None)
    return env


# ------------------------------------------------------------------ compose CLI


def test_compose_config_is_valid() -> None:
    result = run_compose("config", "-q", env={**clean_env(), **DUMMY_SECRETS})
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_config_requires_secrets() -> None:
    if (REPO_ROOT / ".env").exists():
        pytest.skip(".env exists and may define the secrets")
    result = run_compose("config", "-q", env=clean_env())
    assert result.returncode != 0
    assert "GRAFANA_ADMIN_PASSWORD" in result.stdout + result.stderr


# ------------------------------------------------------------------ file shape


def test_compose_file_shape() -> None:
    doc = compose()
    assert "version" not in doc, "the top-level version key is obsolete"
    assert {"api", "prometheus", "alertmanager", "grafana", "jupyter"} <= set(SERVICES)


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_images_are_pinned(name: str) -> None:
    service = SERVICES[name]
    if "image" not in service:
        assert "build" in service, f"{name}: neither image nor build"
        return
    image = service["image"]
    reference = image.split("@", 1)[0]
    repository, _, tag = reference.rpartition(":")
    assert repository and "/" not in tag, f"{name}: {image} has no tag"
    assert tag != "latest" and re.search(r"\d", tag), f"{name}: {image} is not pinned"


def _bind_sources(service: dict) -> list[str]:
    sources = []
    for volume in service.get("volumes", []):
        if isinstance(volume, dict):
            if volume.get("type") == "bind":
                sources.append(volume["source"])
        else:
            source = volume.split(":")[0]
            if source.startswith((".", "/", "~")):
                sources.append(source)
    return sources


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_bind_mount_sources_exist(name: str) -> None:
    for source in _bind_sources(SERVICES[name]):
        assert source.startswith("./"), f"{name}: bind mount {source} is not repo-relative"
        assert (REPO_ROOT / source).exists(), f"{name}: bind mount source {source} is missing"


def test_named_volumes_are_declared() -> None:
    declared = set(compose().get("volumes") or {})
    for name, service in SERVICES.items():
        for volume in service.get("volumes", []):
            if isinstance(volume, str) and not volume.startswith((".", "/", "~")):
                assert volume.split(":")[0] in declared, f"{name}: undeclared volume {volume}"


BUILDS = sorted(name for name, service in SERVICES.items() if "build" in service)


@pytest.mark.parametrize("name", BUILDS)
def test_build_context_and_dockerfile_exist(name: str) -> None:
    build = SERVICES[name]["build"]
    if isinstance(build, str):
        build = {"context": build}
    context = REPO_ROOT / build.get("context", ".")
    assert context.is_dir(), f"{name}: build context {context} is missing"
    dockerfile = build.get("dockerfile", "Dockerfile")
    path = context / dockerfile
    relative = path.resolve().relative_to(REPO_ROOT.resolve()).as_posix()
    if not path.exists() and relative in PENDING_FILES:
        pytest.skip(f"{relative} does not exist yet: a separate change writes the jupyter image")
    assert path.is_file(), f"{name}: {relative} is missing"


def _published(port) -> tuple[str, str | None]:
    """(host ip, host port) of one ports entry; ip "" means all interfaces."""
    if isinstance(port, dict):
        published = port.get("published")
        return port.get("host_ip", ""), str(published) if published else None
    text = str(port).split("/")[0]
    if text.startswith("["):  # [::1]:9090:9090
        ip, rest = text[1:].split("]:", 1)
        return ip, rest.split(":")[0]
    parts = text.split(":")
    if len(parts) == 3:
        return parts[0], parts[1]
    if len(parts) == 2:
        return "", parts[0]
    return "", None  # container port only: random host port on every interface


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_only_user_facing_services_listen_publicly(name: str) -> None:
    for port in SERVICES[name].get("ports", []):
        ip, _ = _published(port)
        if name not in PUBLIC_SERVICES:
            assert ip in LOOPBACK, f"{name} publishes {port} beyond loopback; use 127.0.0.1:..."


def test_expected_ports() -> None:
    published = {
        name: {_published(p)[1] for p in service.get("ports", [])}
        for name, service in SERVICES.items()
    }
    assert "8000" in published["api"]
    assert "3000" in published["grafana"]
    assert "8888" in published["jupyter"]


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_depends_on_uses_conditions(name: str) -> None:
    depends_on = SERVICES[name].get("depends_on")
    if depends_on is None:
        return
    assert isinstance(depends_on, dict), f"{name}: depends_on must be a mapping with conditions"
    for dependency, spec in depends_on.items():
        assert dependency in SERVICES, f"{name}: depends on unknown {dependency}"
        condition = (spec or {}).get("condition")
        assert condition in CONDITIONS, f"{name} -> {dependency}: condition {condition!r}"
        if condition == "service_healthy":
            assert "healthcheck" in SERVICES[dependency], f"{dependency} has no healthcheck"


def _healthcheck_command(service: dict) -> str:
    test = service.get("healthcheck", {}).get("test", [])
    return " ".join(test) if isinstance(test, list) else str(test)


def test_healthchecks() -> None:
    assert "/readyz" in _healthcheck_command(SERVICES["api"])
    assert "/-/ready" in _healthcheck_command(SERVICES["prometheus"])
    assert "/-/ready" in _healthcheck_command(SERVICES["alertmanager"])
    assert "/api/health" in _healthcheck_command(SERVICES["grafana"])


def _environment(service: dict) -> dict[str, str | None]:
    env = service.get("environment", {})
    if isinstance(env, list):
        return dict(item.split("=", 1) if "=" in item else (item, None) for item in env)
    return env


def test_service_settings() -> None:
    api = _environment(SERVICES["api"])
    assert api["MODEL_PATH"] == "/models/model.joblib"
    assert "./models:/models:ro" in SERVICES["api"]["volumes"]
    assert SERVICES["api"]["build"] == {"context": ".", "dockerfile": "service/Dockerfile"}

    grafana = _environment(SERVICES["grafana"])
    assert grafana["GF_SECURITY_ADMIN_PASSWORD"].startswith("${GRAFANA_ADMIN_PASSWORD:?")
    assert grafana["GF_AUTH_ANONYMOUS_ENABLED"] == "true"
    assert grafana["GF_AUTH_ANONYMOUS_ORG_ROLE"] == "Viewer"

    jupyter = _environment(SERVICES["jupyter"])
    assert jupyter["JUPYTER_TOKEN"].startswith("${JUPYTER_TOKEN:?")
    assert jupyter["MODEL_PATH"] == "/models/model.joblib"
    assert jupyter["SERVICE_URL"] == "http://api:8000"
    assert "./models:/models" in SERVICES["jupyter"]["volumes"]
    assert "./jupyter:/home/jovyan/work" in SERVICES["jupyter"]["volumes"]

    prometheus_mounts = SERVICES["prometheus"]["volumes"]
    assert "./prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro" in prometheus_mounts
    assert "./prometheus/rules:/etc/prometheus/rules:ro" in prometheus_mounts
    assert (
        "./alertmanager/alertmanager.yml:/etc/alertmanager/alertmanager.yml:ro"
        in (SERVICES["alertmanager"]["volumes"])
    )


def test_api_receives_every_service_setting() -> None:
    # A variable set in .env but not listed here never reaches the container: API_KEYS
    # missing would leave the endpoints open while the operator believes them closed.
    from anomaly_detector.settings import Settings

    api = _environment(SERVICES["api"])
    fixed_by_the_container = {"HOST", "PORT"}  # Dockerfile: 0.0.0.0:8000
    for name in sorted(field.upper() for field in Settings.model_fields):
        if name in fixed_by_the_container:
            continue
        assert name in api, f"{name} is not passed to the api service"
        if name != "MODEL_PATH":
            assert api[name] is None, f"{name}: pass it through (no value), do not set it"


# ------------------------------------------------------------------ Dockerfile


def test_dockerfile() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    base = re.search(r"^FROM\s+(\S+)", text, re.MULTILINE).group(1)
    assert re.fullmatch(r"python:3\.11\.\d+-slim(-\w+)?", base), f"unpinned base image {base}"
    assert re.search(r"^USER\s+(?!root\b|0\b)\S+", text, re.MULTILINE), "runs as root"
    assert re.search(r"^COPY\s+pyproject\.toml\s+README\.md\s", text, re.MULTILINE)
    assert re.search(r"^COPY\s+service/", text, re.MULTILINE)
    assert "pip install --no-cache-dir ." in text
    assert "MODEL_PATH=/models/model.joblib" in text
    healthcheck = re.search(r"^HEALTHCHECK .*", text, re.MULTILINE | re.DOTALL)
    assert healthcheck and "urllib" in healthcheck.group(0)
    assert "http://127.0.0.1:8000/readyz" in healthcheck.group(0)
    assert 'CMD ["anomaly-detector", "serve", "--host", "0.0.0.0", "--port", "8000"]' in text


def test_dockerignore() -> None:
    patterns = {
        line.strip().rstrip("/")
        for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    for needed in (".venv", ".git", "models", "data", ".env", "**/__pycache__"):
        assert needed in patterns, f".dockerignore does not exclude {needed}"
    for kept in ("service", "pyproject.toml", "README.md"):
        assert kept not in patterns, f".dockerignore excludes {kept}, which the image needs"
