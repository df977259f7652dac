"""The one settings object: environment parsing, and every variable documented."""

import re
from pathlib import Path

import pytest

from anomaly_detector.settings import Settings

REPO = Path(__file__).resolve().parents[1]
VARIABLES = sorted(name.upper() for name in Settings.model_fields)


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    """No service variable from the caller's shell, and no .env in the working folder."""
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


def test_empty_models_dir_means_the_folder_of_the_model(clean_env, monkeypatch, tmp_path):
    # .env.example ships `MODELS_DIR=`; it must not widen the trusted folder to the cwd.
    monkeypatch.setenv("MODELS_DIR", "")
    monkeypatch.setenv("MODEL_PATH", str(tmp_path / "models" / "model.joblib"))
    settings = Settings()
    assert settings.models_dir is None
    assert settings.trusted_models_dir == (tmp_path / "models").resolve()


def test_models_dir_when_set(clean_env, monkeypatch, tmp_path):
    monkeypatch.setenv("MODELS_DIR", str(tmp_path / "elsewhere"))
    assert Settings().trusted_models_dir == (tmp_path / "elsewhere").resolve()


def test_workers_from_the_environment(clean_env, monkeypatch):
    assert Settings().workers == 1
    monkeypatch.setenv("WORKERS", "3")
    assert Settings().workers == 3
    monkeypatch.setenv("WORKERS", "0")
    with pytest.raises(ValueError, match="workers"):
        Settings()


def test_the_example_env_file_parses_to_the_defaults(clean_env, monkeypatch):
    (Path.cwd() / ".env").write_text((REPO / ".env.example").read_text())
    from_example = Settings().model_dump()
    monkeypatch.chdir(REPO / "tests")  # no .env here
    assert from_example == Settings(_env_file=None).model_dump()


@pytest.mark.parametrize("variable", VARIABLES)
def test_every_variable_is_documented(variable):
    example = (REPO / ".env.example").read_text()
    assert re.search(rf"^{variable}=", example, re.MULTILINE), f"{variable} not in .env.example"
    configuration = (REPO / "README.md").read_text().split("## Configuration", 1)[1]
    configuration = configuration.split("\n## ", 1)[0]
    assert f"`{variable}`" in configuration, f"{variable} not in the README's Configuration"
