"""docker-compose.yml, service/Dockerfile and .dockerignore: static checks.

``docker-compose config`` needs docker-compose (or the ``docker compose`` plugin);
without it that test is skipped, or fails when ``CI=true``. Everything else only
parses files.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import tomllib
import yaml
from observability_tools import COMPOSE_HINT, missing_tool

REPO_ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
DOCKERFILE = REPO_ROOT / "service" / "Dockerfile"
DOCKERIGNORE = REPO_ROOT / ".dockerignore"

PUBLIC_SERVICES = {"api", "grafana", "jupyter"}
LOOPBACK = {"127.0.0.1", "::1", "localhost"}
CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}
# Variables a user may set; none is needed. Removed from the environment of the
# compose runs so that they see a machine where nothing is set.
OPTIONAL_VARIABLES = ("GRAFANA_ADMIN_PASSWORD", "JUPYTER_TOKEN", "BIND_ADDRESS", "ADMIN_TOKEN")


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


def run_compose(
    *args: str, env: dict[str, str], directory: Path = REPO_ROOT
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*compose_command(), "-f", str(directory / COMPOSE_FILE.name), *args],
        cwd=directory,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in OPTIONAL_VARIABLES}
    env.pop("COMPOSE_FILE", None)
    return env


def fresh_clone(target: Path) -> Path:
    """The files git tracks, copied to ``target``: what a new user has, with no .env."""
    tracked = (
        subprocess.run(["git", "ls-files", "-z"], cwd=REPO_ROOT, capture_output=True, check=True)
        .stdout.decode()
        .split("\0")
    )
    for name in filter(None, tracked):
        source = REPO_ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


# ------------------------------------------------------------------ compose CLI


def test_compose_config_passes_in_a_fresh_clone_with_nothing_set(tmp_path) -> None:
    clone = fresh_clone(tmp_path / "clone")
    assert not (clone / ".env").exists()
    result = run_compose("config", "-q", env=clean_env(), directory=clone)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "WARNING" not in result.stderr, result.stderr  # no unset variable warnings


def test_published_ports_default_to_loopback_and_follow_bind_address() -> None:
    for env, expected in ((clean_env(), "127.0.0.1"), ({**clean_env(), "BIND_ADDRESS": "0.0.0.0"},
                                                        "0.0.0.0")):  # fmt: skip
        result = run_compose("config", env=env)
        assert result.returncode == 0, result.stderr
        config = yaml.safe_load(result.stdout)
        for name in PUBLIC_SERVICES:
            for port in config["services"][name]["ports"]:
                assert _published(port)[0] == expected, (name, port)


# ------------------------------------------------------------------ file shape


def test_compose_file_shape() -> None:
    doc = compose()
    assert "version" not in doc, "the top-level version key is obsolete"
    assert {"model-init", "api", "prometheus", "alertmanager", "grafana", "jupyter"} <= set(
        SERVICES
    )


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
    assert path.is_file(), f"{name}: {relative} is missing"


def _interpolated(text: str) -> str:
    """``${NAME:-default}`` as compose reads it on a machine where NAME is unset."""
    return re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", text)


def _published(port) -> tuple[str, str | None]:
    """(host ip, host port) of one ports entry; ip "" means all interfaces."""
    if isinstance(port, str):
        port = _interpolated(port)
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
    assert grafana["GF_SECURITY_ADMIN_PASSWORD"] == "${GRAFANA_ADMIN_PASSWORD:-}"
    assert grafana["GF_AUTH_ANONYMOUS_ENABLED"] == "true"
    assert grafana["GF_AUTH_ANONYMOUS_ORG_ROLE"] == "Viewer"

    jupyter = _environment(SERVICES["jupyter"])
    assert jupyter["JUPYTER_TOKEN"] == "${JUPYTER_TOKEN:-}"
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
    watcher = _environment(SERVICES["watcher"])
    fixed_by_the_container = {"HOST", "PORT"}  # Dockerfile: 0.0.0.0:8000
    for name in sorted(field.upper() for field in Settings.model_fields):
        if name in fixed_by_the_container:
            continue
        # The series watcher's settings go to the watcher, the rest to the api.
        service, environment = ("watcher", watcher) if name.startswith("WATCH_") else ("api", api)
        assert name in environment, f"{name} is not passed to the {service} service"
        if name not in ("MODEL_PATH", "WATCH_PROMETHEUS_URL"):
            assert environment[name] is None, f"{name}: pass it through (no value), do not set it"
    assert watcher["WATCH_PROMETHEUS_URL"] == "http://prometheus:9090"


# ------------------------------------------------------------------ Dockerfile


def test_dockerfile() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    base = re.search(r"^FROM\s+(\S+)", text, re.MULTILINE).group(1)
    assert re.fullmatch(r"python:3\.11\.\d+-slim(-\w+)?", base), f"unpinned base image {base}"
    assert re.search(r"^USER\s+(?!root\b|0\b)\S+", text, re.MULTILINE), "runs as root"
    assert re.search(r"^COPY\s+pyproject\.toml\s+README\.md\s", text, re.MULTILINE)
    assert re.search(r"^COPY\s+service/", text, re.MULTILINE)
    assert "pip install --no-cache-dir -r service/requirements.lock" in text
    assert "pip install --no-cache-dir --no-deps ." in text
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


# ------------------------------------------------------------------ first start


def test_model_init_runs_what_make_model_runs_before_the_api_and_jupyter() -> None:
    init = SERVICES["model-init"]
    assert init["image"] == SERVICES["api"]["image"] and init["restart"] == "no"
    assert init["command"][:2] == ["anomaly-detector", "init"]
    makefile = (REPO_ROOT / "Makefile").read_text()
    assert "anomaly-detector init --data-dir $(DATA_DIR) --out $(MODEL_DIR)" in makefile
    assert "./models:/models" in init["volumes"]
    assert init["command"][init["command"].index("--writable-by") + 1] == "1000"
    for name in ("api", "jupyter"):
        condition = SERVICES[name]["depends_on"]["model-init"]["condition"]
        assert condition == "service_completed_successfully"


def _grafana_start(tmp_path: Path, env: dict[str, str]) -> str:
    """Grafana's compose entrypoint run by sh, with /run.sh and its data folder stubbed."""
    script = SERVICES["grafana"]["command"][0].replace("$$", "$")
    data = tmp_path / "grafana-data"
    data.mkdir(exist_ok=True)
    script = script.replace("/var/lib/grafana", str(data))
    script = script.replace("exec /run.sh", 'echo "started with $GF_SECURITY_ADMIN_PASSWORD"')
    result = subprocess.run(
        ["/bin/sh", "-c", script], env={"PATH": os.environ["PATH"], **env},
        capture_output=True, text=True, timeout=30, check=True,
    )  # fmt: skip
    return result.stdout


def test_grafana_generates_an_admin_password_once_and_prints_it(tmp_path) -> None:
    first = _grafana_start(tmp_path, {})
    printed = re.search(r"admin password \(generated.*\): (\S+)", first).group(1)
    assert len(printed) >= 16 and f"started with {printed}" in first
    again = _grafana_start(tmp_path, {})  # a restart: the same password, kept in the volume
    assert f"started with {printed}" in again
    chosen = _grafana_start(tmp_path, {"GF_SECURITY_ADMIN_PASSWORD": "my-choice"})
    assert "started with my-choice" in chosen and "generated" not in chosen


# ------------------------------------------------------------------ lock files


def _requirements(extras: set[str]) -> list:
    from packaging.requirements import Requirement

    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    names = list(project["dependencies"])
    for extra in extras:
        for item in project["optional-dependencies"][extra]:
            if item.startswith("anomaly-detector["):
                names += [
                    r
                    for inner in item.split("[", 1)[1].rstrip("]").split(",")
                    for r in project["optional-dependencies"][inner]
                ]
            else:
                names.append(item)
    return [Requirement(text) for text in names]


@pytest.mark.parametrize(
    ("lock", "extras"),
    [("service/requirements.lock", set()), ("jupyter/requirements.lock", {"jupyter"})],
)
def test_lock_files_pin_every_dependency_within_its_bounds(lock: str, extras: set[str]) -> None:
    from packaging.utils import canonicalize_name

    pins = {}
    for line in (REPO_ROOT / lock).read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            pins[canonicalize_name(name)] = version
    for requirement in _requirements(extras):
        pinned = pins.get(canonicalize_name(requirement.name))
        assert pinned, f"{requirement.name} is not in {lock}: run make lock"
        assert requirement.specifier.contains(pinned, prereleases=True), (
            f"{lock} pins {requirement.name}=={pinned}, outside {requirement.specifier}: "
            "run make lock"
        )


def _jupyter_start(tmp_path: Path, token: str | None) -> str:
    """The Jupyter image's CMD run by sh, with a stub ``jupyter`` that prints its arguments."""
    text = (REPO_ROOT / "jupyter" / "Dockerfile").read_text()
    command = json.loads(re.search(r"^CMD (\[.*\])$", text, re.MULTILINE).group(1))
    assert command[:2] == ["/bin/sh", "-c"]
    stub = tmp_path / "bin" / "jupyter"
    stub.parent.mkdir(exist_ok=True)
    stub.write_text('#!/bin/sh\necho "jupyter $*"\n')
    stub.chmod(0o755)
    env = {"PATH": f"{stub.parent}:{os.environ['PATH']}"}
    if token is not None:
        env["JUPYTER_TOKEN"] = token
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_jupyter_uses_the_token_given_or_lets_jupyterlab_generate_one(tmp_path) -> None:
    assert "--ServerApp.token=secret" in _jupyter_start(tmp_path, "secret")
    generated = _jupyter_start(tmp_path, None)
    assert generated.startswith("jupyter lab") and "token" not in generated
    # Never without a token: no --ServerApp.token='' (which would disable it).
    assert "--ServerApp.token=" not in _jupyter_start(tmp_path, "")
