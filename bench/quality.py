"""Detection quality: ROC-AUC and PR-AUC of every detector, the ensemble and ``auto``.

``make bench-quality`` runs this over the suite of ``quality_data`` (several seeds) and
writes ``bench/results-quality.md``; ``make test`` runs a quick smoke of it.

Protocol, the same for every detector: each dataset is split in half at random
(the traffic data has its own train and test rows). The detector is trained
through ``training.train`` on the first half *without labels* (anomalies included,
as in production) at contamination 0.03, then scores the second half through the
service's ``Scorer``. ``auto`` gets the second half as its labelled ``--test``: it
chooses on one half of those rows, so every detector is reported on the *other*
half (``selection.split_holdout``), which no choice saw. PyOD's implementation of the
same detector is fitted on the same preprocessed inputs, robust-standardized (as
ours standardize internally; tree and rank detectors do not care), in the
same run: its ROC-AUC, the Spearman correlation of its scores with ours, and both
sides' fit and score times.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import spearmanr
from sklearn.metrics import average_precision_score, roc_auc_score

from anomaly_detector.detectors.standardization import fit_robust, standardize
from anomaly_detector.scoring.scorer import Scorer
from anomaly_detector.training import selection
from anomaly_detector.training.train import TrainConfig, train
from quality_data import Dataset, suite

LABEL = "label"
CONTAMINATION = 0.03
RESULTS = Path(__file__).with_name("results-quality.md")


def detectors() -> list[str]:
    """The built-in unsupervised detectors (what ``auto`` also chooses among)."""
    return list(dict.fromkeys(name for name, _ in selection.candidates()))


def pyod_model(name: str):
    """PyOD's implementation of the same detector with the same defaults, or None."""
    from pyod.models.copod import COPOD
    from pyod.models.ecod import ECOD
    from pyod.models.hbos import HBOS
    from pyod.models.iforest import IForest
    from pyod.models.knn import KNN
    from pyod.models.lof import LOF
    from pyod.models.ocsvm import OCSVM
    from pyod.models.pca import PCA

    models = {
        "isolation_forest": lambda: IForest(n_estimators=100, random_state=42),
        "hbos": lambda: HBOS(n_bins=10),
        "ecod": ECOD,
        "copod": COPOD,
        "knn": lambda: KNN(n_neighbors=5, method="largest"),
        "lof": lambda: LOF(n_neighbors=20, novelty=True),
        "ocsvm": lambda: OCSVM(nu=0.05, gamma="scale"),
        "pca": lambda: PCA(random_state=42),
    }
    return models[name]() if name in models else None


@dataclass
class Run:
    """One detector on one dataset and seed."""

    roc_auc: float
    pr_auc: float
    fit_seconds: float
    score_us_per_row: float
    recall_by_kind: dict[str, float] = field(default_factory=dict)
    pyod: dict[str, float] = field(default_factory=dict)
    note: str = ""


def _split(data: Dataset, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rows = np.arange(len(data.frame))
    if data.train_rows is not None:
        return data.train_rows, np.setdiff1d(rows, data.train_rows)
    shuffled = np.random.default_rng(seed).permutation(rows)
    return np.sort(shuffled[: len(rows) // 2]), np.sort(shuffled[len(rows) // 2 :])


def _recall_by_kind(kinds: np.ndarray, flagged: np.ndarray) -> dict[str, float]:
    return {
        str(kind): float(flagged[kinds == kind].mean())
        for kind in np.unique(kinds)
        if kind != "none"
    }


def _pyod(name: str, bundle, train_frame, report_frame, ours: np.ndarray) -> dict[str, float]:
    model = pyod_model(name)
    if model is None:
        return {}
    prepare = bundle.preprocessor.transform
    train_inputs = prepare(bundle.schema.coerce_frame(train_frame))
    report_inputs = prepare(bundle.schema.coerce_frame(report_frame))
    centre, scale = fit_robust(train_inputs)
    started = time.perf_counter()
    model.fit(standardize(train_inputs, centre, scale))
    fit_seconds = time.perf_counter() - started
    started = time.perf_counter()
    theirs = model.decision_function(standardize(report_inputs, centre, scale))
    score_seconds = time.perf_counter() - started
    return {
        "scores": theirs,
        "spearman": float(spearmanr(ours, theirs).statistic),
        "fit_seconds": fit_seconds,
        "score_us_per_row": 1e6 * score_seconds / len(report_frame),
    }


def evaluate_dataset(data: Dataset, seed: int, say) -> dict[str, Run]:
    """Every detector, ``auto`` and PyOD's counterparts on one dataset."""
    fit_rows, holdout_rows = _split(data, seed)
    train_frame = data.frame.iloc[fit_rows].reset_index(drop=True)
    holdout = data.frame.iloc[holdout_rows].reset_index(drop=True)
    truth = data.is_anomaly[holdout_rows]
    halves = selection.split_holdout(holdout, truth)
    if halves is None:
        report, report_truth = holdout, truth
    else:
        _, _, report, report_truth = halves
    report_kinds = None if data.kinds is None else data.kinds[holdout_rows][report.index]
    runs: dict[str, Run] = {}
    for name in [*detectors(), selection.AUTO]:
        config = TrainConfig(detector=name, contamination=CONTAMINATION)
        labelled = None
        if name == selection.AUTO:
            config.label_column = LABEL
            labelled = holdout.assign(**{LABEL: truth.astype(int)})
        started = time.perf_counter()
        result = train(train_frame, config, test_frame=labelled)
        fit_seconds = time.perf_counter() - started
        bundle = result.bundle
        scorer = Scorer(bundle)
        scorer.predict_frame(report.iloc[:1])  # compiled code loads on first use
        started = time.perf_counter()
        prediction = scorer.predict_frame(report)
        score_seconds = time.perf_counter() - started
        scores = prediction.anomaly_score
        run = Run(
            roc_auc=float(roc_auc_score(report_truth, scores)),
            pr_auc=float(average_precision_score(report_truth, scores)),
            fit_seconds=fit_seconds,
            score_us_per_row=1e6 * score_seconds / len(report),
        )
        if report_kinds is not None:
            run.recall_by_kind = _recall_by_kind(report_kinds, scores > bundle.threshold)
        if name == selection.AUTO:
            chosen = bundle.metadata["selection"]
            run.note = f"{chosen['chosen']} {chosen.get('chosen_params', '')}".strip()
        else:
            raw = prediction.raw_score if prediction.raw_score is not None else scores
            run.pyod = _pyod(name, bundle, train_frame, report, raw)
            if run.pyod:
                run.pyod["roc_auc"] = float(roc_auc_score(report_truth, run.pyod.pop("scores")))
        runs[name] = run
        say(f"  {data.name} seed {seed}: {name:<16} ROC-AUC {run.roc_auc:.3f} "
            f"PR-AUC {run.pr_auc:.3f} ({fit_seconds:.1f} s) {run.note}")  # fmt: skip
    return runs


def _mean(values) -> float:
    values = [v for v in values if v is not None and np.isfinite(v)]
    return float(np.mean(values)) if values else float("nan")


def render(results: dict[str, dict[int, dict[str, Run]]], seeds: list[int], quick: bool) -> str:
    """The markdown report: quality tables, PyOD side by side, per-type recall, auto's picks."""
    names = [*detectors(), selection.AUTO]
    datasets = list(results)

    def per_dataset(metric: str) -> pd.DataFrame:
        table = pd.DataFrame(index=names, columns=datasets, dtype=float)
        for dataset, by_seed in results.items():
            for name in names:
                table.loc[name, dataset] = _mean(getattr(r[name], metric) for r in by_seed.values())
        table["mean"] = table[datasets].mean(axis=1)
        table["mean rank"] = table[datasets].loc[names[:-1]].rank(ascending=False).mean(axis=1)
        oracle = table.loc[names[:-1], datasets].max()
        table.loc["oracle (best single per dataset)"] = [*oracle, oracle.mean(), np.nan]
        return table.sort_values("mean", ascending=False)

    lines = [
        "# Detection quality",
        "",
        f"`make bench-quality` on {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; "
        f"{'quick smoke run; ' if quick else ''}seeds {', '.join(map(str, seeds))}. "
        "Each figure is the mean over seeds of one detector on the report half of the "
        "held-out rows (see the docstring of `bench/quality.py` for the protocol). "
        "`mean rank` ranks single detectors only (1 is best).",
        "",
    ]
    for metric, title in (("roc_auc", "ROC-AUC"), ("pr_auc", "PR-AUC")):
        lines += [f"## {title}", "", per_dataset(metric).to_markdown(floatfmt=".3f"), ""]
    rows = []
    for name in names[:-1]:
        pairs = [r[name] for by_seed in results.values() for r in by_seed.values()]
        with_pyod = [run for run in pairs if run.pyod]
        rows.append({
            "detector": name,
            "ROC-AUC (ours)": _mean(run.roc_auc for run in pairs),
            "ROC-AUC (PyOD)": _mean(run.pyod.get("roc_auc") for run in with_pyod),
            "Spearman with PyOD": _mean(run.pyod.get("spearman") for run in with_pyod),
            "fit s (ours)": _mean(run.fit_seconds for run in pairs),
            "fit s (PyOD)": _mean(run.pyod.get("fit_seconds") for run in with_pyod),
            "score µs/row (ours)": _mean(run.score_us_per_row for run in pairs),
            "score µs/row (PyOD)": _mean(run.pyod.get("score_us_per_row") for run in with_pyod),
        })  # fmt: skip
    lines += [
        "## Side by side with PyOD",
        "",
        "Means over every dataset and seed. Ours: `train` (preprocessing included) and the "
        "service's `Scorer` on a batch; PyOD: `fit` and `decision_function` on the same "
        "preprocessed inputs, robust-standardized. Blank: PyOD has no counterpart without a "
        "deep-learning runtime (autoencoder) or none at all (k-means distance, DBSCAN).",
        "",
        pd.DataFrame(rows).set_index("detector").to_markdown(floatfmt=".3g"),
        "",
    ]
    traffic = [d for d in datasets if any(r[names[0]].recall_by_kind for r in results[d].values())]
    for dataset in traffic:
        recall = defaultdict(dict)
        for name in names:
            kinds = defaultdict(list)
            for by_seed in results[dataset].values():
                for kind, value in by_seed[name].recall_by_kind.items():
                    kinds[kind].append(value)
            recall[name] = {kind: _mean(values) for kind, values in kinds.items()}
        lines += [
            f"## Recall per anomaly type on {dataset}",
            "",
            f"At each model's threshold (contamination {CONTAMINATION} of the training rows).",
            "",
            pd.DataFrame(recall).T.to_markdown(floatfmt=".2f"),
            "",
        ]
    lines += ["## What auto chose", "", "| dataset | seed | choice |", "|---|---|---|"]
    for dataset, by_seed in results.items():
        for seed, runs in by_seed.items():
            lines.append(f"| {dataset} | {seed} | {runs[selection.AUTO].note} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=3, help="seeds per dataset")
    parser.add_argument("--quick", action="store_true", help="three small datasets (smoke run)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="markdown file to write")
    args = parser.parse_args(argv)
    seeds = list(range(args.seeds))

    def say(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    results: dict[str, dict[int, dict[str, Run]]] = defaultdict(dict)
    started = time.perf_counter()
    for seed in seeds:
        for data in suite(seed, quick=args.quick):
            say(f"{data.name} (seed {seed}): {len(data.frame)} rows, "
                f"{int(data.is_anomaly.sum())} anomalies")  # fmt: skip
            results[data.name][seed] = evaluate_dataset(data, seed, say)
    report = render(results, seeds, args.quick)
    args.out.write_text(report)
    say(f"wrote {args.out} in {time.perf_counter() - started:.0f} s")
    print(report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
