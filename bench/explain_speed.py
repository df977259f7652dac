"""One-row explanation latency beside one-row scoring latency, for every model type.

Run by ``make bench`` (or alone: ``python bench/explain_speed.py [--rows N]``). Each
model is trained on N rows of generated traffic (the supervised ones on labelled
traffic), then one row at a time goes through ``Scorer.predict_one`` and through
``Scorer.explain`` (TreeSHAP for the tree models, baseline Shapley values over the
2^10 mixes of the row and the typical row for the others). Medians over rows.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from anomaly_detector.data.synthetic.traffic import (
    ANOMALY_TYPE_COLUMN,
    LABEL_COLUMN,
    generate_traffic,
)
from anomaly_detector.detectors import registry
from anomaly_detector.scoring.scorer import Scorer
from anomaly_detector.training.train import TrainConfig, train


def _median_us(call, rows, repeat: int) -> float:
    times = []
    for row in rows:
        for _ in range(repeat):
            started = time.perf_counter()
            call(row)
            times.append(time.perf_counter() - started)
    return statistics.median(times) * 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=20_000, help="training rows")
    parser.add_argument("--probes", type=int, default=20, help="rows explained per model")
    args = parser.parse_args(argv)
    frame = generate_traffic(args.rows, 0.1, seed=3)
    features = frame.drop(columns=[LABEL_COLUMN, ANOMALY_TYPE_COLUMN])
    models = [(name, TrainConfig(detector=name, contamination=0.03), features)
              for name in registry.trainable()]  # fmt: skip
    for label in (LABEL_COLUMN, ANOMALY_TYPE_COLUMN):
        other = ANOMALY_TYPE_COLUMN if label == LABEL_COLUMN else LABEL_COLUMN
        config = TrainConfig(task="supervised", label_column=label)
        models.append((f"gradient_boosting ({label})", config, frame.drop(columns=[other])))
    lines = [
        "",
        f"### Explanations: one row, {args.rows:,} training rows",
        "",
        "| model | explained by | score one row µs | explain one row µs |",
        "|---|---|---:|---:|",
    ]
    probes = features.sample(args.probes, random_state=1)
    for name, config, data in models:
        bundle = train(data, config).bundle
        scorer = Scorer(bundle)
        rows = [bundle.schema.row_from_mapping(r) for r in probes.to_dict("records")]
        scorer.explain(rows[0])  # builds the explainer, compiles nothing new
        score_us = _median_us(scorer.predict_one, rows, repeat=50)
        explain_us = _median_us(scorer.explain, rows, repeat=2)
        method = "TreeSHAP" if bundle.detector.explainer() is not None else "baseline Shapley"
        lines.append(f"| {name} | {method} | {score_us:,.1f} | {explain_us:,.0f} |")
        print(f"  {name}: score {score_us:.1f} µs, explain {explain_us:.0f} µs", file=sys.stderr)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
