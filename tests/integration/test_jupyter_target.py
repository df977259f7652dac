"""``make jupyter`` starts JupyterLab for the notebooks, also as root (containers, CI)."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import httpx
import pytest

from live import free_port, wait_for

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


def test_make_jupyter_starts_jupyterlab(tmp_path):
    port = free_port()
    log = tmp_path / "jupyter.log"
    env = {**os.environ, "JUPYTER_TOKEN": "test-token", "JUPYTER_PORT": str(port)}
    with log.open("wb") as output:
        process = subprocess.Popen(
            ["make", "jupyter", f"JUPYTER_PORT={port}"], cwd=REPO, env=env,
            stdout=output, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        try:
            wait_for(
                lambda: (
                    process.poll() is None
                    and httpx.get(
                        f"http://127.0.0.1:{port}/api/status?token=test-token"
                    ).status_code
                    == 200
                ),
                timeout=600,  # the first run installs JupyterLab into the venv
                interval=1,
                what="JupyterLab answering",
            )
        except TimeoutError:
            pytest.fail(f"make jupyter did not start JupyterLab:\n{log.read_text()[-3000:]}")
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)
    text = log.read_text()
    assert "Running as root is not recommended. Use --allow-root to bypass." not in text
    if os.geteuid() == 0:
        assert "--allow-root" in text  # the Makefile added it, as root
