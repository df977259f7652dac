"""``train`` and ``detectors``: fitting a bundle from a CSV, and what can be fitted."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from anomaly_detector.cli.options import detector_params, fail
from anomaly_detector.detectors import registry
from anomaly_detector.settings import DEFAULT_MODEL_PATH

AUTO = "auto"  # training.selection.AUTO, without importing training at start-up


def train(
    data: Annotated[Path, typer.Option(help="Training CSV.")],
    task: Annotated[
        str,
        typer.Option(
            help="'unsupervised' (rows alone; labels only evaluate) or 'supervised' (a "
            "calibrated classifier learns --label-column)."
        ),
    ] = "unsupervised",
    out: Annotated[
        Path, typer.Option(help="Folder for model.joblib and model.json.")
    ] = DEFAULT_MODEL_PATH.parent,
    detector: Annotated[
        str,
        typer.Option(
            help="Detector to fit (see: anomaly-detector detectors), or 'auto': with a "
            "labelled --test, the best of all detectors by validation PR-AUC."
        ),
    ] = registry.DEFAULT_DETECTOR,
    param: Annotated[
        list[str] | None,
        typer.Option(help="Detector parameter as key=value; repeat for several."),
    ] = None,
    label_column: Annotated[
        str | None, typer.Option(help="Column with true labels: never a feature, used to evaluate.")
    ] = None,
    anomaly_label: Annotated[
        str | None, typer.Option(help="Label value meaning anomalous (inferred when omitted).")
    ] = None,
    features: Annotated[
        str | None, typer.Option(help="Comma-separated feature columns (default: detected).")
    ] = None,
    contamination: Annotated[
        str | None,
        typer.Option(help="Expected anomaly share, sets the threshold: 'auto' or e.g. 0.03."),
    ] = None,
    n_estimators: Annotated[
        int | None, typer.Option(min=1, help="Trees (shortcut for --param n_estimators=N).")
    ] = None,
    max_samples: Annotated[
        str | None, typer.Option(help="Rows per tree: 'auto' (256), a count or a fraction.")
    ] = None,
    max_features: Annotated[
        float | None, typer.Option(min=0.0, max=1.0, help="Share of features per tree.")
    ] = None,
    random_state: Annotated[
        int | None, typer.Option(help="Seed; same data and seed, same scores (default 42).")
    ] = None,
    test: Annotated[Path | None, typer.Option(help="Labelled hold-out CSV to evaluate on.")] = None,
    alert_budget: Annotated[
        float,
        typer.Option(
            min=0.0, max=1.0, help="Recommend the best recall flagging at most this share."
        ),
    ] = 0.02,
    min_precision: Annotated[
        float,
        typer.Option(min=0.0, max=1.0, help="Recommend the best recall at least this precise."),
    ] = 0.9,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON summary.")] = False,
    format: Annotated[
        str,
        typer.Option(help="'joblib' (model.joblib, a pickle) or 'skops' (model.skops, no code)."),
    ] = "joblib",
) -> None:
    """Train a model bundle from any CSV and write it atomically to OUT."""
    from anomaly_detector.bundle.io import save_bundle
    from anomaly_detector.data.reading import read_csv
    from anomaly_detector.errors import InputError
    from anomaly_detector.training.report import describe, training_summary
    from anomaly_detector.training.train import TrainConfig
    from anomaly_detector.training.train import train as train_model

    if format not in ("joblib", "skops"):
        fail(f"--format must be 'joblib' or 'skops', got {format!r}")
    if task not in ("unsupervised", "supervised"):
        fail(f"--task must be 'unsupervised' or 'supervised', got {task!r}")
    if task == "supervised":
        if label_column is None:
            fail("--task supervised learns a label: pass --label-column COLUMN")
        if detector in (registry.DEFAULT_DETECTOR, AUTO):
            detector = registry.trainable("supervised")[0]
    shortcuts = {
        "n_estimators": n_estimators,
        "max_samples": max_samples,
        "max_features": max_features,
        "random_state": random_state,
    }
    if detector == AUTO:
        given = [f"--{k.replace('_', '-')}" for k, v in shortcuts.items() if v is not None]
        if param or given:
            fail("--detector auto chooses parameters itself; drop --param and "
                 + ", ".join(given or ["--param"]))  # fmt: skip
        params = {}
    elif detector not in registry.trainable(task):
        fail(
            f"unknown detector {detector!r} for --task {task}; train one of: "
            f"{', '.join(registry.trainable(task))}"
            + (f", or {AUTO}" if task == "unsupervised" else "")
        )
    else:
        shortcuts["max_samples"] = _parse(detector, "max_samples", max_samples)
        params = detector_params(detector, param or [], shortcuts)
    config = TrainConfig(
        task=task,
        detector=detector,
        alert_budget=alert_budget,
        min_precision=min_precision,
        params=params,
        contamination=contamination,
        label_column=label_column,
        anomaly_label=anomaly_label,
        features=[f.strip() for f in features.split(",") if f.strip()] if features else None,
    )
    try:
        frame = read_csv(data)
        typer.echo(f"training {detector} on {len(frame)} rows x {frame.shape[1]} columns "
                   f"from {data}", err=True)  # fmt: skip
        test_frame = read_csv(test) if test else None
        result = train_model(
            frame, config, test_frame=test_frame, source=str(data), progress=_progress
        )
    except InputError as exc:
        fail(exc.message)
    try:
        model_path, metadata_path = save_bundle(result.bundle, out, format=format)
    except OSError as exc:
        fail(f"cannot write the model to {out}: {exc}")
    if as_json:
        typer.echo(json.dumps(training_summary(result), indent=2, default=str))
    else:
        typer.echo(describe(result))
        typer.echo(f"wrote {model_path} and {metadata_path}")


def _progress(message: str) -> None:
    typer.echo(message, err=True)


def _parse(detector: str, name: str, text: str | None):
    """A shortcut flag's text through the detector's own parser (None stays None)."""
    if text is None:
        return None
    known = {param.name: param for param in registry.detector_class(detector).params}
    if name not in known:
        return text  # detector_params says the flag does not apply
    try:
        return known[name].parse(text)
    except ValueError as exc:
        fail(f"--{name.replace('_', '-')}: {exc}")


def detectors(
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """List the detectors ``train`` can fit, with their parameters and defaults."""
    listing = []
    names = registry.trainable(None)
    for name in sorted(names, key=lambda n: n != registry.DEFAULT_DETECTOR):  # default first
        cls = registry.detector_class(name)
        listing.append(
            {
                "name": name,
                "task": cls.task,
                "summary": cls.summary,
                "score": cls.score_meaning,
                "raw_score": cls.raw_score_meaning,
                "params": [
                    {"name": p.name, "default": p.default, "help": p.help} for p in cls.params
                ],
                "search_space": [dict(params) for params in cls.search_space],
            }
        )
    if as_json:
        typer.echo(json.dumps(listing, indent=2, default=str))
        return
    for item in listing:
        default = " (default)" if item["name"] == registry.DEFAULT_DETECTOR else ""
        typer.echo(f"{item['name']}{default} [{item['task']}]: {item['summary']}")
        for p in item["params"]:
            typer.echo(f"    --param {p['name']}={p['default']}  {p['help']}")
    typer.echo(
        f"{AUTO}: with a labelled --test, every unsupervised detector with a few parameter sets, "
        "chosen by PR-AUC on half of the test rows; without labels, the suite's best default"
    )


def threshold(
    model: Annotated[
        Path, typer.Option(help="The model file to re-tune (its folder is re-published).")
    ] = DEFAULT_MODEL_PATH,
    use: Annotated[
        str | None,
        typer.Option(
            help="A recommendation recorded at training: best_f1, within_budget, "
            "min_precision, default, training_rate, or class_weights (multi-class)."
        ),
    ] = None,
    value: Annotated[float | None, typer.Option(help="Or an explicit threshold.")] = None,
) -> None:
    """Re-publish MODEL with another threshold; a running service hot-swaps it."""
    from anomaly_detector.bundle.io import load_bundle, save_bundle
    from anomaly_detector.errors import BundleError, InputError
    from anomaly_detector.training.recommendation import apply_recommendation

    if (use is None) == (value is None):
        fail("pass exactly one of --use NAME or --value THRESHOLD")
    try:
        bundle = load_bundle(model)
    except (BundleError, OSError) as exc:
        fail(f"cannot load {model}: {exc}")
    before = bundle.threshold
    try:
        if use is not None:
            apply_recommendation(bundle, use)
        else:
            bundle.set_threshold(value)
            bundle.metadata.setdefault("thresholds", {})["applied"] = "value"
    except InputError as exc:
        fail(exc.message)
    fmt = "skops" if model.suffix == ".skops" else "joblib"
    model_path, _ = save_bundle(bundle, model.parent, format=fmt)
    change = f"class weights {list(bundle.decision.class_weights)}" if use == "class_weights" \
        else f"threshold {before:.4f} -> {bundle.threshold:.4f}"  # fmt: skip
    typer.echo(f"{change}; wrote {model_path} (a running service picks it up by itself)")
