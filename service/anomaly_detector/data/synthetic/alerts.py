"""A deterministic security-alert dataset with a ``priority`` label (low / medium / high).

The supervised use-case of a SOC: each row is an alert a detection tool raised,
with the fields an analyst triages on, and the priority a team gave it. The label
follows a latent risk that the features explain only in part, as real triage does:

* ``risk = w . features + alert-type effect + interactions + noise``: credential
  alerts matter more with many failed logins, any alert more on critical assets,
  alert types with a high historical false-positive rate less;
* priorities cut the risk at fixed quantiles (about 60% low, 28% medium, 12% high);
* then 5% of labels are re-drawn at random (analysts disagree).

So a classifier can learn it well but not perfectly (macro-F1 around 0.8), and
calibration matters. Identifiers and timestamps are included, as in a real export,
and training drops them. ``make data`` writes ``alerts.csv`` and ``alerts_test.csv``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

ALERT_TYPES = {  # name: (share, risk effect, typical false-positive rate)
    "brute_force": (0.22, 0.4, 0.35),
    "phishing_click": (0.18, 0.6, 0.25),
    "malware_detected": (0.12, 1.2, 0.10),
    "impossible_travel": (0.12, 0.8, 0.45),
    "privilege_escalation": (0.08, 1.5, 0.08),
    "port_scan": (0.18, -0.6, 0.60),
    "data_exfiltration": (0.05, 1.8, 0.05),
    "policy_violation": (0.05, -0.9, 0.70),
}
ASSET_CRITICALITY = {"low": (0.45, -0.6), "medium": (0.35, 0.0), "high": (0.15, 0.8),
                     "crown_jewel": (0.05, 1.6)}  # fmt: skip
PRIORITIES = ("low", "medium", "high")
PRIORITY_SHARES = (0.60, 0.28, 0.12)
LABEL_NOISE = 0.05
PRIORITY_COLUMN = "priority"
DEFAULT_SEED = 7


def generate_alerts(n_rows: int, seed: int = DEFAULT_SEED) -> pd.DataFrame:
    """``n_rows`` alerts with their ``priority``; equal seeds give identical frames."""
    rng = np.random.default_rng(seed)
    names = list(ALERT_TYPES)
    shares = np.array([ALERT_TYPES[n][0] for n in names])
    kind = rng.choice(len(names), size=n_rows, p=shares / shares.sum())
    effect = np.array([ALERT_TYPES[n][1] for n in names])[kind]
    fp_typical = np.array([ALERT_TYPES[n][2] for n in names])[kind]
    assets = list(ASSET_CRITICALITY)
    asset_shares = np.array([ASSET_CRITICALITY[a][0] for a in assets])
    asset = rng.choice(len(assets), size=n_rows, p=asset_shares)
    asset_effect = np.array([ASSET_CRITICALITY[a][1] for a in assets])[asset]

    source_ip_risk = rng.beta(1.5, 4.0, size=n_rows)
    user_risk = np.clip(rng.gamma(2.0, 12.0, size=n_rows), 0, 100)
    credential = np.isin(kind, [names.index("brute_force"), names.index("impossible_travel")])
    failed_logins = rng.poisson(np.where(credential, 12.0, 1.5) * (1 + 3 * source_ip_risk))
    travel_rate = np.where(kind == names.index("impossible_travel"), 0.85, 0.03)
    impossible_travel = rng.random(n_rows) < travel_rate
    historical_fp = np.clip(fp_typical + rng.normal(0, 0.08, size=n_rows), 0.0, 0.98)

    risk = (
        effect + asset_effect
        + 2.2 * source_ip_risk + 0.025 * user_risk
        + np.where(credential, 0.06, 0.02) * np.minimum(failed_logins, 60)
        + 0.7 * impossible_travel
        - 2.0 * historical_fp
        + 0.5 * (asset_effect > 0.5) * (user_risk > 40)
        + rng.normal(0, 0.45, size=n_rows)
    )  # fmt: skip
    cuts = np.quantile(risk, np.cumsum(PRIORITY_SHARES)[:-1])
    priority = np.digitize(risk, cuts)
    noisy = rng.random(n_rows) < LABEL_NOISE
    priority[noisy] = rng.integers(0, len(PRIORITIES), size=int(noisy.sum()))

    created = pd.Timestamp("2026-11-01T00:00:00Z") + pd.to_timedelta(
        np.sort(rng.uniform(0, 30 * 86400, size=n_rows)), unit="s"
    )
    frame = pd.DataFrame({
        "alert_id": [f"AL-{seed:02d}-{i:06d}" for i in range(n_rows)],
        "created_at": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "alert_type": np.array(names)[kind],
        "source_ip_risk": source_ip_risk.round(4),
        "user_risk_score": user_risk.round(1),
        "failed_logins_24h": failed_logins,
        "impossible_travel": impossible_travel.astype(int),
        "asset_criticality": np.array(assets)[asset],
        "historical_fp_rate": historical_fp.round(3),
        PRIORITY_COLUMN: np.array(PRIORITIES)[priority],
    })  # fmt: skip
    # A few blanks, as exports have: training imputes them, the service accepts null.
    for column in ("user_risk_score", "source_ip_risk"):
        frame.loc[rng.random(n_rows) < 0.01, column] = np.nan
    return frame


def write_alerts(out: Path, seed: int = DEFAULT_SEED, train_rows: int = 8_000,
                 test_rows: int = 2_000) -> tuple[Path, Path]:  # fmt: skip
    """``alerts.csv`` and ``alerts_test.csv`` (both labelled) in ``out``, atomically."""
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, rows, offset in (("alerts.csv", train_rows, 0), ("alerts_test.csv", test_rows, 1)):
        path = out / name
        staged = out / f".{name}.tmp"
        generate_alerts(rows, seed + offset).to_csv(staged, index=False)
        staged.replace(path)
        paths.append(path)
    return paths[0], paths[1]
