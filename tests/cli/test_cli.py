"""Tests for the ``anomaly-detector`` command line, in process and as a real process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from anomaly_detector.bundle.io import load_bundle
from anomaly_detector.cli import app
from anomaly_detector.data.reading import read_csv
from anomaly_detector.detectors import registry

runner = CliRunner()
EXECUTABLE = Path(sys.executable).with_name("anomaly-detector")


def write_customer_csv(path: Path, rows: int = 600, seed: int = 0) -> Path:
    """The issue's scenario: an ID column, a text category, missing values and a label."""
    rng = np.random.default_rng(seed)
    is_fraud = rng.random(rows) < 0.08
    amount = rng.lognormal(3, 0.5, rows) * np.where(is_fraud, 20, 1)
    logins = rng.poisson(3, rows) + np.where(is_fraud, 25, 0)
    plan = rng.choice(["free", "pro", "team"], rows).astype(object)
    plan[rng.random(rows) < 0.1] = None
    amount[rng.random(rows) < 0.05] = np.nan
    frame = pd.DataFrame(
        {
            "customer_id": [f"C{i:06d}" for i in rng.permutation(rows)],
            "plan": plan,
            "amount": amount,
            "logins": logins,
            "status": np.where(is_fraud, "fraud", "ok"),
        }
    )
    frame.to_csv(path, index=False)
    return path


def test_acceptance_train_with_only_a_label_column(tmp_path: Path) -> None:
    data = write_customer_csv(tmp_path / "customers.csv")
    out = tmp_path / "model"
    result = runner.invoke(
        app, ["train", "--data", str(data), "--out", str(out), "--label-column", "status"]
    )
    assert result.exit_code == 0, result.output
    assert "roc_auc=" in result.stdout and "f1=" in result.stdout
    assert "anomalous label value 'fraud'" in result.stdout
    assert "dropped column 'customer_id'" in result.stdout
    assert (out / "model.joblib").is_file() and (out / "model.json").is_file()

    bundle = load_bundle(out / "model.joblib")
    assert "status" not in bundle.schema.names
    assert "customer_id" not in bundle.schema.names
    assert {"plan", "amount", "logins"} <= set(bundle.schema.names)
    roc_auc = json.loads((out / "model.json").read_text())["evaluation"]["train"]["roc_auc"]
    assert roc_auc > 0.8


def test_train_json_summary(tmp_path: Path) -> None:
    data = write_customer_csv(tmp_path / "customers.csv")
    result = runner.invoke(
        app,
        ["train", "--data", str(data), "--out", str(tmp_path / "m"), "--label-column", "status",
         "--detector", "isolation_forest", "--n-estimators", "25", "--contamination", "0.08",
         "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["version"] == load_bundle(tmp_path / "m" / "model.joblib").version
    assert "customer_id" in summary["dropped_columns"]
    assert summary["evaluation"]["train"]["alert_rate"] == pytest.approx(0.08, abs=0.01)


@pytest.mark.parametrize(
    ("arguments", "words"),
    [
        (["--data", "{tmp}/absent.csv"], ["does not exist"]),
        (["--contamination", "0.9"], ["contamination", "0.9"]),
        (["--contamination", "lots"], ["contamination", "lots"]),
        (["--detector", "isolation_forest", "--max-samples", "many"], ["--max-samples", "many"]),
        (["--n-estimators", "9"], ["--n-estimators", "--detector isolation_forest"]),
        (["--detector", "magic"], ["'magic'", "isolation_forest"]),
        (["--param", "depth=3"], ["no parameter 'depth'", "members"]),
        (["--param", "n_estimators"], ["key=value"]),
        (["--detector", "knn", "--param", "max_samples=many"], ["--param max_samples", "'many'"]),
        (["--features", "amount,no_such_column"], ["no_such_column"]),
        (["--label-column", "target"], ["'target'"]),
        (["--label-column", "status", "--anomaly-label", "spam"], ["'spam'"]),
    ],
)
def test_train_errors_exit_2_with_one_line(tmp_path: Path, arguments, words) -> None:
    data = write_customer_csv(tmp_path / "customers.csv", rows=100)
    arguments = [a.replace("{tmp}", str(tmp_path)) for a in arguments]
    if "--data" not in arguments:
        arguments = ["--data", str(data), *arguments]
    result = runner.invoke(app, ["train", "--out", str(tmp_path / "m"), *arguments])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("error: ")
    assert all(word in lines[-1] for word in words)
    assert "Traceback" not in result.output
    assert not (tmp_path / "m" / "model.joblib").exists()


def test_score_command_adds_scores(tmp_path: Path) -> None:
    data = write_customer_csv(tmp_path / "customers.csv", rows=200)
    model = tmp_path / "m"
    trained = runner.invoke(app, ["train", "--data", str(data), "--out", str(model)])
    assert trained.exit_code == 0, trained.output
    out = tmp_path / "scored.csv"
    result = runner.invoke(
        app,
        ["score", "--data", str(data), "--out", str(out), "--model", str(model / "model.joblib"),
         "--chunk-rows", "7"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "scored 200 rows" in result.stdout
    bundle = load_bundle(model / "model.joblib")
    expected = bundle.reference_scores(read_csv(data))
    np.testing.assert_allclose(read_csv(out)["anomaly_score"], expected, rtol=0, atol=1e-9)


@pytest.mark.parametrize("problem", ["missing model", "missing columns"])
def test_score_errors_exit_2_with_one_line(tmp_path: Path, problem: str) -> None:
    data = write_customer_csv(tmp_path / "customers.csv", rows=100)
    model = tmp_path / "m" / "model.joblib"
    if problem == "missing columns":
        assert runner.invoke(app, ["train", "--data", str(data), "--out", str(model.parent),
                                   "--detector", "hbos"]).exit_code == 0  # fmt: skip
        read_csv(data).drop(columns=["amount"]).to_csv(data, index=False)
    result = runner.invoke(
        app, ["score", "--data", str(data), "--out", str(tmp_path / "o.csv"), "--model", str(model)]
    )
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines()[-1].startswith("error: ")
    assert "Traceback" not in result.output
    assert not (tmp_path / "o.csv").exists()


def test_params_reach_the_detector_and_its_metadata(tmp_path: Path) -> None:
    data = write_customer_csv(tmp_path / "customers.csv", rows=200)
    result = runner.invoke(
        app,
        ["train", "--data", str(data), "--out", str(tmp_path / "m"), "--detector",
         "isolation_forest", "--param", "n_estimators=12", "--param", "max-samples=0.5",
         "--max-features", "0.5"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    params = json.loads((tmp_path / "m" / "model.json").read_text())["params"]
    assert params == {
        "n_estimators": 12, "max_samples": 0.5, "max_features": 0.5, "random_state": 42,
    }  # fmt: skip
    assert "isolation_forest: n_estimators=12" in result.stdout


def test_detectors_lists_what_can_be_trained_with_parameters() -> None:
    listed = runner.invoke(app, ["detectors"])
    assert listed.exit_code == 0
    assert listed.stdout.startswith(f"{registry.DEFAULT_DETECTOR} (default) [unsupervised]: ")
    assert "--param n_estimators=100" in listed.stdout
    assert "sklearn_outlier" not in listed.stdout  # serving only, never trained
    as_json = json.loads(runner.invoke(app, ["detectors", "--json"]).stdout)
    (forest,) = [d for d in as_json if d["name"] == "isolation_forest"]
    assert {"name": "max_samples", "default": "auto"}.items() <= forest["params"][1].items()
    assert sorted(d["name"] for d in as_json) == sorted(registry.trainable(None))
    assert "gradient_boosting [supervised]" in listed.stdout
    for listed_detector in as_json:
        assert listed_detector["summary"] and listed_detector["raw_score"]
        assert f"{listed_detector['name']}" in listed.stdout
        assert listed_detector["search_space"][0] == {}  # auto tries the defaults first
    assert "auto: with a labelled --test" in listed.stdout


def test_init_generates_data_and_trains_once(tmp_path: Path) -> None:
    data_dir, models = tmp_path / "data", tmp_path / "models"
    first = runner.invoke(app, ["init", "--data-dir", str(data_dir), "--out", str(models),
                                "--writable-by", "1000"])  # fmt: skip
    assert first.exit_code == 0, first.output
    assert (data_dir / "train.csv").is_file() and (models / "model.joblib").is_file()
    metadata = json.loads((models / "model.json").read_text())
    assert metadata["decision"]["contamination"] == 0.03
    assert metadata["evaluation"]["test"]["roc_auc"] > 0.85
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        assert models.stat().st_uid == 1000  # the Jupyter container's user can publish
    modified = (models / "model.joblib").stat().st_mtime_ns
    again = runner.invoke(app, ["init", "--data-dir", str(data_dir), "--out", str(models)])
    assert again.exit_code == 0 and "already in" in again.stdout
    assert (models / "model.joblib").stat().st_mtime_ns == modified


def test_generate_data_writes_unlabelled_train_and_labelled_test(tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        ["generate-data", "--out", str(tmp_path), "--train-rows", "300", "--test-rows", "100",
         "--access-log-days", "8"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    train, test = read_csv(tmp_path / "train.csv"), read_csv(tmp_path / "test.csv")
    assert (len(train), len(test)) == (300, 100)
    assert "is_anomaly" not in train.columns and "is_anomaly" in test.columns
    log = read_csv(tmp_path / "access_log.csv")
    days = pd.to_datetime(log["timestamp"]).dt.floor("D").nunique()
    assert days == 8 and (tmp_path / "access_log_incidents.csv").is_file()


def test_generate_data_can_skip_the_access_log(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["generate-data", "--out", str(tmp_path), "--train-rows", "300",
              "--test-rows", "100", "--access-log-days", "0"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert (tmp_path / "train.csv").is_file() and not (tmp_path / "access_log.csv").exists()


def test_real_process_trains_and_scores(tmp_path: Path) -> None:
    data = write_customer_csv(tmp_path / "customers.csv", rows=300)
    model = tmp_path / "model"

    def run(*arguments: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(EXECUTABLE), *arguments], capture_output=True, text=True, timeout=120
        )

    trained = run("train", "--data", str(data), "--out", str(model), "--label-column", "status")
    assert trained.returncode == 0, trained.stderr
    assert "roc_auc=" in trained.stdout
    scored = run("score", "--data", str(data), "--out", str(tmp_path / "o.csv"),
                 "--model", str(model / "model.joblib"))  # fmt: skip
    assert scored.returncode == 0, scored.stderr
    assert len(read_csv(tmp_path / "o.csv")) == 300

    failed = run("train", "--data", str(tmp_path / "absent.csv"))
    assert failed.returncode == 2
    assert failed.stderr.strip().splitlines() == [
        f"error: data file {tmp_path / 'absent.csv'} does not exist"
    ]


TRAINABLE = sorted(registry.trainable())


@pytest.mark.parametrize("detector", TRAINABLE)
def test_every_detector_trains_on_a_messy_csv_and_scores_it(tmp_path: Path, detector) -> None:
    data = write_customer_csv(tmp_path / "customers.csv")
    out = tmp_path / "model"
    result = runner.invoke(
        app,
        ["train", "--data", str(data), "--out", str(out), "--detector", detector,
         "--label-column", "status", "--contamination", "0.05"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    metadata = json.loads((out / "model.json").read_text())
    # Quality is bench-quality's business (8% clustered fraud defeats the local detectors);
    # here: it trained on the messy columns, evaluated, and scores the file on one scale.
    assert metadata["detector"] == detector
    assert [f["name"] for f in metadata["features"]] == ["plan", "amount", "logins"]
    assert 0.0 <= metadata["evaluation"]["train"]["roc_auc"] <= 1.0
    scored = tmp_path / "scored.csv"
    result = runner.invoke(app, ["score", "--model", str(out / "model.joblib"),
                                 "--data", str(data), "--out", str(scored)])  # fmt: skip
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(scored)
    assert frame["anomaly_score"].between(0, 1).all()
    assert ("raw_score" in frame) is (metadata["score"]["raw_meaning"] != "the paper score itself")


def test_auto_chooses_on_a_labelled_test_and_records_the_candidates(tmp_path: Path) -> None:
    train_csv = write_customer_csv(tmp_path / "train.csv", rows=500, seed=1)
    test_csv = write_customer_csv(tmp_path / "test.csv", rows=600, seed=2)
    out = tmp_path / "model"
    result = runner.invoke(app, ["train", "--data", str(train_csv), "--test", str(test_csv),
                                 "--label-column", "status", "--detector", "auto",
                                 "--out", str(out)])  # fmt: skip
    assert result.exit_code == 0, result.output
    selection = json.loads((out / "model.json").read_text())["selection"]
    assert selection["strategy"] == "validation PR-AUC"
    assert {c["detector"] for c in selection["candidates"]} == set(TRAINABLE)
    assert f"auto: chose {selection['chosen']}" in result.stderr
    assert "/" in result.stderr and "validation PR-AUC" in result.stderr


def test_auto_refuses_parameters(tmp_path: Path) -> None:
    data = write_customer_csv(tmp_path / "customers.csv")
    result = runner.invoke(app, ["train", "--data", str(data), "--detector", "auto",
                                 "--param", "n_bins=5", "--out", str(tmp_path)])  # fmt: skip
    assert result.exit_code == 2 and "chooses parameters itself" in result.stderr
    assert not (tmp_path / "model.joblib").exists()


def test_every_command_lists_its_summary_as_one_reflowed_paragraph():
    # Rich prints a docstring's own line breaks and then wraps again: ragged help lines.
    import typer.main

    group = typer.main.get_command(app)
    commands = dict(group.commands)
    commands.update({f"series {n}": c for n, c in group.commands["series"].commands.items()})
    summaries = {name: command.help.split("\n\n")[0] for name, command in commands.items()}
    multi_line = [name for name, summary in summaries.items() if "\n" in summary]
    assert multi_line == []
    assert "forecast, bounds, anomaly_score, is_anomaly (full" in commands["series detect"].help


def test_a_threshold_off_the_score_scale_never_replaces_the_model(tmp_path: Path) -> None:
    data = write_customer_csv(tmp_path / "customers.csv", rows=200)
    model = tmp_path / "m" / "model.joblib"
    assert (
        runner.invoke(app, ["train", "--data", str(data), "--out", str(model.parent)]).exit_code
        == 0
    )
    published = {path.name: path.read_bytes() for path in model.parent.iterdir()}
    for value in ("5", "-1", "nan", "inf"):
        result = runner.invoke(app, ["threshold", "--model", str(model), "--value", value])
        assert result.exit_code == 2, (value, result.output)
        assert "an anomaly score from 0 to 1" in result.output, result.output
    assert {path.name: path.read_bytes() for path in model.parent.iterdir()} == published
    result = runner.invoke(app, ["threshold", "--model", str(model), "--value", "0.99"])
    assert result.exit_code == 0, result.output
    assert load_bundle(model).threshold == 0.99


def test_files_that_are_no_model_or_would_be_overwritten_get_one_line(tmp_path: Path) -> None:
    data = write_customer_csv(tmp_path / "customers.csv", rows=100)
    before = data.read_bytes()
    json_file = tmp_path / "model.json"
    json_file.write_text('{"version": "1"}')
    for args, words in (
        (["score", "--data", str(data), "--out", "o.csv", "--model", str(data)], "as a model"),
        (["threshold", "--model", str(json_file), "--value", "0.5"], "as a model"),
        (["score", "--data", str(data), "--out", str(data)], "is also an input"),
        (["score", "--data", str(data), "--out", str(tmp_path)], "is a folder"),
        (["generate-data", "--out", str(data)], "is a file"),
        (["generate-data", "--out", str(tmp_path), "--train-rows", "-5"], "--train-rows"),
        (["serve", "--port", "99999"], "PORT"),
        (["series", "watch", "--port", "99999"], "WATCH_PORT"),
        (["series", "watch", "--prometheus-url", "notaurl"], "WATCH_PROMETHEUS_URL"),
    ):
        result = runner.invoke(app, args)
        assert result.exit_code == 2, (args, result.output)
        assert words in result.output and "Traceback" not in result.output, (args, result.output)
        assert len(result.output) < 600, result.output  # a sentence, not a stack
    assert data.read_bytes() == before
