"""``anomaly-detector series``: a plain timestamp,value file with no flags works end to end."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
from typer.testing import CliRunner

from anomaly_detector.cli import app
from anomaly_detector.data.series.points import read_points
from anomaly_detector.timeseries.detection import detect

runner = CliRunner()


def write_series(path: Path, n: int = 3000) -> Path:
    rng = np.random.default_rng(3)
    times = pd.date_range("2026-01-01", periods=n, freq="5min", tz="UTC")
    values = 50 + 10 * np.sin(2 * np.pi * np.arange(n) / 288) + rng.normal(0, 2, n)
    values[2500:2504] += 40
    frame = pd.DataFrame({"timestamp": times.strftime("%Y-%m-%dT%H:%M:%SZ"), "value": values})
    frame.to_csv(path, index=False)
    return path


def test_detect_with_no_flags_writes_full_precision_scores_and_a_chart(
    tmp_path: Path, monkeypatch
) -> None:
    data = write_series(tmp_path / "latency.csv")
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["series", "detect", "--data", str(data)])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(tmp_path / "latency-anomalies.csv")
    assert list(table.columns) == [
        "timestamp", "value", "forecast", "lower", "upper", "anomaly_score", "is_anomaly"
    ]  # fmt: skip
    assert table["is_anomaly"].iloc[2500:2504].all()
    assert table["is_anomaly"].sum() < 30
    # Read back, the scores are the scores the detector computed, bit for bit.
    expected = detect(read_points(data))["anomaly_score"].to_numpy()
    np.testing.assert_array_equal(table["anomaly_score"].to_numpy(), expected)
    html = (tmp_path / "latency-anomalies.html").read_text()
    assert "Plotly.newPlot" in html and len(html) > 1_000_000
    assert '<script src="http' not in html  # plotly.js is inlined: it opens offline


def test_forecast_writes_the_horizon_with_bands(tmp_path: Path) -> None:
    data = write_series(tmp_path / "s.csv")
    out = tmp_path / "f.csv"
    result = runner.invoke(
        app, ["series", "forecast", "--data", str(data), "--horizon", "2h", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out)
    assert len(table) == 24
    assert (table["lower"] < table["forecast"]).all() and (table["forecast"] < table["upper"]).all()


def test_bad_input_gets_a_sentence_not_a_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("timestamp,value\nnot-a-time,1\n" + "2026-01-01T00:00:00Z,2\n" * 20)
    result = runner.invoke(app, ["series", "detect", "--data", str(bad)])
    assert result.exit_code == 2
    assert "error:" in result.output and "is not a date" in result.output
    assert "Traceback" not in result.output
    data = write_series(tmp_path / "s.csv", n=100)
    for args, message in (
        (["--window", "soon"], "window must be a duration"),
        (["--detector", "isolation_forest"], "series detectors are"),
        (["--endpoint", "/api"], "is not an access log"),
        (["--detector", "seasonal_mad", "--param", "period=daily"], "period must be auto"),
        (["--param", "period=1d"], "series_ensemble has no parameter 'period'"),
    ):
        result = runner.invoke(app, ["series", "detect", "--data", str(data), *args])
        assert result.exit_code == 2, (args, result.output)
        assert message in result.output, (args, result.output)


def test_evaluate_reports_nab_profiles_and_event_scores(tmp_path: Path) -> None:
    data = write_series(tmp_path / "s.csv")
    times = pd.read_csv(data)["timestamp"]
    labels = tmp_path / "labels.csv"
    pd.DataFrame({"start": [times[2500]], "end": [times[2503]]}).to_csv(labels, index=False)
    out = tmp_path / "per-series.csv"
    result = runner.invoke(
        app,
        ["series", "evaluate", "--data", str(data), "--labels", str(labels), "--out", str(out)],
    )
    assert result.exit_code == 0, result.output
    for profile in ("standard", "reward_low_fp", "reward_low_fn"):
        assert f"NAB {profile}" in result.output
    assert "1 detected, 0 missed" in result.output
    # Each incident, with what the operating threshold made of it.
    line = r"2026-01-09 16:20 to 2026-01-09 16:35  detected \d+ min (after|before) its start"
    assert re.search(line, result.output), result.output
    rows = pd.read_csv(out)
    assert rows["incidents"].tolist() == [1] and rows["detected"].tolist() == [1]


def test_evaluate_with_labels_outside_the_series_says_so(tmp_path: Path) -> None:
    data = write_series(tmp_path / "s.csv")
    labels = tmp_path / "labels.csv"
    labels.write_text("start,end\n2030-01-01T00:00:00Z,2030-01-01T01:00:00Z\n")
    result = runner.invoke(
        app, ["series", "evaluate", "--data", str(data), "--labels", str(labels)]
    )
    assert result.exit_code != 0
    assert "no incident" in result.output and "Traceback" not in result.output


def test_a_parameter_that_does_not_fit_the_values_is_a_sentence(tmp_path: Path) -> None:
    data = write_series(tmp_path / "s.csv")
    frame = pd.read_csv(data)
    frame.loc[10, "value"] = -5.0
    frame.to_csv(data, index=False)
    for command in ("detect", "forecast"):
        result = runner.invoke(
            app, ["series", command, "--data", str(data), "--param", "transform=log",
                  "--out", str(tmp_path / f"{command}.csv")],
        )  # fmt: skip
        assert result.exit_code != 0, command
        assert "at least 0" in result.output and "Traceback" not in result.output


def test_evaluate_options_get_sentences(tmp_path: Path) -> None:
    data = write_series(tmp_path / "s.csv")
    labels = tmp_path / "labels.csv"
    labels.write_text("start,end\n2026-01-09T16:20:00Z,2026-01-09T16:40:00Z\n")
    for args, message in (
        (["--tolerance", "15"], "--tolerance must be a duration"),
        (["--merge-gap", "-5min"], "--merge-gap must be a duration of at least 0"),
        (["--labels", str(tmp_path / "missing.csv")], "labels file"),
    ):
        options = {"--labels": str(labels), **dict(zip(args[::2], args[1::2], strict=True))}
        flat = [item for pair in options.items() for item in pair]
        result = runner.invoke(app, ["series", "evaluate", "--data", str(data), *flat])
        assert result.exit_code != 0, args
        assert message in result.output and "Traceback" not in result.output, result.output


def test_detect_on_an_access_log_shades_only_the_incidents_of_its_metric(tmp_path: Path) -> None:
    from anomaly_detector.data.synthetic.access_logs import generate_access_logs

    log, _ = generate_access_logs(days=2, seed=3)
    data = tmp_path / "access.csv"
    log.to_csv(data, index=False)
    labels = tmp_path / "incidents.csv"
    labels.write_text(
        "start,end,endpoint,metric\n"
        "2026-10-05T10:00:00Z,2026-10-05T11:00:00Z,*,response_time\n"
        "2026-10-05T14:00:00Z,2026-10-05T15:00:00Z,*,request_rate\n"
        "2026-10-05T18:00:00Z,2026-10-05T19:00:00Z,/api/users,response_time\n"
    )
    out = tmp_path / "p95.csv"
    result = runner.invoke(
        app, ["series", "detect", "--data", str(data), "--labels", str(labels), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    # The default metric is p95 of all requests: of the three incidents, only the first is its.
    shaded = re.findall(r'"type":"rect","x0":"([^"]+)"', out.with_suffix(".html").read_text())
    assert shaded == ["2026-10-05T10:00:00+00:00"]
    assert "windows of 5min (p95);" in result.output


def test_outputs_never_replace_an_input_and_a_failure_writes_nothing(tmp_path: Path) -> None:
    data = write_series(tmp_path / "s.csv", n=600)
    before = data.read_bytes()
    for args, message in (
        (["--out", str(data)], "is also an input"),
        (["--chart", str(data)], "is also an input"),
        (["--out", str(tmp_path)], "is a folder"),
        (["--labels", str(tmp_path / "missing.csv")], "--labels file"),
    ):
        result = runner.invoke(app, ["series", "detect", "--data", str(data), *args])
        assert result.exit_code == 2 and message in result.output, (args, result.output)
    result = runner.invoke(app, ["series", "forecast", "--data", str(data), "--out", str(data)])
    assert result.exit_code == 2 and "is also an input" in result.output
    assert data.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.csv"]  # nothing half-written
    # An .html --out keeps its chart beside it; a new folder is made for it.
    out = tmp_path / "new" / "r.html"
    result = runner.invoke(app, ["series", "detect", "--data", str(data), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert pd.read_csv(out).shape == (600, 7)
    assert "Plotly.newPlot" in (tmp_path / "new" / "r-chart.html").read_text()


def test_values_a_command_cannot_use_are_refused_with_the_expected_range(tmp_path: Path) -> None:
    data = write_series(tmp_path / "s.csv", n=600)
    for command, args, message in (
        ("detect", ["--window", "5"], "with a unit"),
        ("detect", ["--threshold", "5"], "from 0 to 1"),
        ("detect", ["--threshold", "nan"], "from 0 to 1"),
        ("evaluate", ["--labels", str(data), "--threshold", "-1"], "from 0 to 1"),
        ("forecast", ["--horizon", "-1h"], "positive duration"),
        ("forecast", ["--horizon", "0min"], "positive duration"),
        ("forecast", ["--horizon", "5"], "positive duration"),
        ("forecast", ["--horizon", "10000d"], "at most 105,120"),
        ("detect", ["--detector", "forecaster", "--param", "days=-2"], "days must be at least 1"),
        ("detect", ["--detector", "forecaster", "--param", "neighbors=-1"], "at least 0"),
        ("detect", ["--detector", "forecaster", "--param", "period=5"], "period must be"),
        ("detect", ["--detector", "windowed_gaussian", "--param", "window=0"], "at least 1"),
        ("detect", ["--detector", "forecaster", "--param", "damping=1.5"], "at most 1"),
    ):
        result = runner.invoke(app, ["series", command, "--data", str(data), *args])
        assert result.exit_code == 2, (command, args, result.output)
        said = " ".join(re.sub("[│╭╮╰╯─]", " ", result.output).split())  # Rich's usage box
        assert message in said and "Traceback" not in said, result.output
    evaluate = ["series", "evaluate", "--data", str(tmp_path / "no.csv"), "--labels", str(data)]
    result = runner.invoke(app, evaluate)
    assert result.exit_code == 2 and "--data file" in result.output, result.output


def test_series_without_enough_values_are_refused_not_scored_empty(tmp_path: Path) -> None:
    data = write_series(tmp_path / "s.csv", n=50)
    frame = pd.read_csv(data)
    for name, blank in (("all-empty", slice(None)), ("most-empty", slice(5, None))):
        frame.assign(value=frame["value"].where(~frame.index.isin(frame.index[blank]))).to_csv(
            tmp_path / f"{name}.csv", index=False
        )
        for command in ("detect", "forecast"):
            result = runner.invoke(
                app, ["series", command, "--data", str(tmp_path / f"{name}.csv")]
            )
            assert result.exit_code == 2, (name, command, result.output)
            assert "have no value" in result.output, result.output
    header = tmp_path / "log.csv"
    header.write_text("timestamp,endpoint,status_code,response_time_ms\n")
    result = runner.invoke(app, ["series", "detect", "--data", str(header)])
    assert result.exit_code == 2 and "no rows" in result.output, result.output


def test_a_value_column_is_chosen_by_name_and_an_empty_label_cell_is_named(tmp_path: Path) -> None:
    frame = pd.read_csv(write_series(tmp_path / "s.csv", n=600))
    wide = frame.assign(requests=frame["value"] * 3, latency_ms=frame["value"])
    wide.drop(columns=["value"]).to_csv(tmp_path / "wide.csv", index=False)
    out = tmp_path / "o.csv"

    def series(command: str, *args: str):
        return runner.invoke(app, ["series", command, "--data", str(tmp_path / "wide.csv"), *args])

    result = series("detect", "--out", str(out))
    assert result.exit_code == 2 and "--value-column" in result.output, result.output
    result = series("detect", "--value-column", "latency_ms", "--out", str(out))
    assert result.exit_code == 0, result.output
    np.testing.assert_allclose(pd.read_csv(out)["value"], frame["value"])
    labels = tmp_path / "labels.csv"
    labels.write_text(f"start,end\n{frame['timestamp'][500]},\n")
    result = series("evaluate", "--value-column", "latency_ms", "--labels", str(labels))
    assert result.exit_code == 2 and "column 'end' on data row 1 is empty" in result.output
