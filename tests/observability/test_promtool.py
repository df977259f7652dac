"""Prometheus and Alertmanager configuration: promtool/amtool checks plus static checks.

Needs promtool and amtool (``apt-get install prometheus prometheus-alertmanager``);
without them the tool-based tests are skipped, or fail when ``CI=true``.
"""

from __future__ import annotations

import copy
import re
import subprocess
from pathlib import Path

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS_DIR = REPO_ROOT / "prometheus"
CONFIGS = {
    "compose": PROMETHEUS_DIR / "prometheus.yml",
    "native": PROMETHEUS_DIR / "prometheus.native.yml",
}
RULE_FILES = sorted((PROMETHEUS_DIR / "rules").glob("*.yml"))
RULE_TEST_FILES = sorted((PROMETHEUS_DIR / "tests").glob("*.test.yml"))
ALERTMANAGER_CONFIG = REPO_ROOT / "alertmanager" / "alertmanager.yml"
JOB = "anomaly-detector"
SEVERITIES = {"critical", "warning", "info"}
REQUIRED_ANNOTATIONS = ("summary", "description", "runbook")


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120
    )


def assert_ok(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 0, f"{result.args}\n{result.stdout}\n{result.stderr}"


def load_yaml(path: Path):
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def all_rules() -> list[dict]:
    return [
        dict(rule, _group=group["name"], _file=path.name)
        for path in RULE_FILES
        for group in load_yaml(path)["groups"]
        for rule in group["rules"]
    ]


def alert_rules() -> list[dict]:
    return [rule for rule in all_rules() if "alert" in rule]


def recording_rules() -> list[dict]:
    return [rule for rule in all_rules() if "record" in rule]


# --------------------------------------------------------------- promtool / amtool


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_promtool_check_config(promtool: str, name: str) -> None:
    """Both configs load, and so do the rule files they reference."""
    result = run(promtool, "check", "config", CONFIGS[name])
    assert_ok(result)
    assert f"{len(RULE_FILES)} rule files found" in result.stdout + result.stderr


def test_promtool_check_rules(promtool: str) -> None:
    assert RULE_FILES, "no rule files in prometheus/rules"
    assert_ok(run(promtool, "check", "rules", *RULE_FILES))


def test_promtool_rule_unit_tests(promtool: str) -> None:
    assert RULE_TEST_FILES, "no promtool tests in prometheus/tests"
    assert_ok(run(promtool, "test", "rules", *RULE_TEST_FILES))


def test_amtool_check_config(amtool: str) -> None:
    assert_ok(run(amtool, "check-config", ALERTMANAGER_CONFIG))


@pytest.mark.parametrize("severity", sorted(SEVERITIES))
def test_alertmanager_routes_every_severity_to_a_receiver(amtool: str, severity: str) -> None:
    result = run(
        amtool, "config", "routes", "test", f"--config.file={ALERTMANAGER_CONFIG}",
        "alertname=AnomalyDetectorDown", f"severity={severity}",
    )  # fmt: skip
    assert_ok(result)
    assert result.stdout.strip(), "alert routed to no receiver"


# ------------------------------------------------------------------ static checks


def _strip_targets(config: dict) -> tuple[dict, list[str]]:
    """The config with every static target replaced by a placeholder, and the targets."""
    config = copy.deepcopy(config)
    targets: list[str] = []
    static_configs = [
        static
        for job in config.get("scrape_configs", [])
        for static in job.get("static_configs", [])
    ] + [
        static
        for am in config.get("alerting", {}).get("alertmanagers", [])
        for static in am.get("static_configs", [])
    ]
    for static in static_configs:
        targets.extend(static["targets"])
        static["targets"] = ["<target>"] * len(static["targets"])
    return config, targets


def test_native_config_matches_compose_config() -> None:
    """prometheus.native.yml is prometheus.yml with loopback targets, nothing else."""
    compose, compose_targets = _strip_targets(load_yaml(CONFIGS["compose"]))
    native, native_targets = _strip_targets(load_yaml(CONFIGS["native"]))
    assert native == compose, "the two Prometheus configs drifted apart (apart from targets)"
    assert len(native_targets) == len(compose_targets)
    for compose_target, native_target in zip(compose_targets, native_targets, strict=True):
        compose_host, compose_port = compose_target.rsplit(":", 1)
        native_host, native_port = native_target.rsplit(":", 1)
        assert native_port == compose_port, (compose_target, native_target)
        assert native_host in {"127.0.0.1", "localhost"}, native_target
        assert compose_host not in {"127.0.0.1", "localhost"}, compose_target


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_prometheus_config_shape(name: str) -> None:
    config = load_yaml(CONFIGS[name])
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert JOB in jobs
    assert jobs[JOB].get("scrape_interval") == "5s"
    assert jobs[JOB].get("metrics_path", "/metrics") == "/metrics"
    assert [t for s in jobs[JOB]["static_configs"] for t in s["targets"]][0].endswith(":8000")
    assert config["rule_files"] == ["rules/*.yml"]
    am_targets = [
        t
        for am in config["alerting"]["alertmanagers"]
        for s in am["static_configs"]
        for t in s["targets"]
    ]
    assert am_targets and all(t.endswith(":9093") for t in am_targets)


def test_alert_rules_have_severity_and_runbook_annotations() -> None:
    rules = alert_rules()
    assert rules
    names = [rule["alert"] for rule in rules]
    assert len(names) == len(set(names)), "duplicate alert names"
    for rule in rules:
        assert rule.get("labels", {}).get("severity") in SEVERITIES, rule["alert"]
        annotations = rule.get("annotations", {})
        for key in REQUIRED_ANNOTATIONS:
            assert str(annotations.get(key, "")).strip(), f"{rule['alert']}: no {key} annotation"
        runbook = annotations["runbook"]
        for part in ("Means:", "Check:", "Do:"):
            assert part in runbook, f"{rule['alert']}: runbook lacks {part!r}"


def test_recording_rule_names_follow_convention_and_keep_job_instance() -> None:
    rules = recording_rules()
    assert rules
    names = [rule["record"] for rule in rules]
    assert len(names) == len(set(names)), "duplicate recording rule names"
    for rule in rules:
        name = rule["record"]
        assert re.fullmatch(r"[a-z_]+:[a-z_]+:[a-z0-9_]+", name), f"{name}: not level:metric:ops"
        level = name.split(":")[0]
        assert level.startswith("instance"), f"{name}: level must keep job and instance"
        for grouping in re.findall(r"\bby\s*\(([^)]*)\)", rule["expr"]):
            labels = {label.strip() for label in grouping.split(",")}
            assert {"job", "instance"} <= labels, f"{name}: aggregates away job/instance"


def _rule_tests() -> list[dict]:
    return [
        dict(test, _file=path.name) for path in RULE_TEST_FILES for test in load_yaml(path)["tests"]
    ]


def test_every_alert_has_firing_and_silent_unit_tests() -> None:
    firing: set[str] = set()
    silent: set[str] = set()
    for test in _rule_tests():
        for case in test.get("alert_rule_test", []):
            (firing if case.get("exp_alerts") else silent).add(case["alertname"])
    names = {rule["alert"] for rule in alert_rules()}
    assert not names - firing, f"alerts never tested firing: {sorted(names - firing)}"
    assert not names - silent, f"alerts never tested silent: {sorted(names - silent)}"
    assert not (firing | silent) - names, "tests name alerts that do not exist"


def test_every_recording_rule_is_evaluated_by_a_unit_test() -> None:
    evaluated = " ".join(
        case["expr"] for test in _rule_tests() for case in test.get("promql_expr_test", [])
    )
    missing = [
        rule["record"]
        for rule in recording_rules()
        if not re.search(re.escape(rule["record"]) + r"(?![\w:])", evaluated)
    ]
    assert not missing, f"recording rules without a promql_expr_test: {missing}"


def test_unit_tests_load_all_rules_in_a_fixed_group_order() -> None:
    """Without group_eval_order promtool evaluates groups in random order (flaky tests)."""
    groups = [rule_group["name"] for path in RULE_FILES for rule_group in load_yaml(path)["groups"]]
    for path in RULE_TEST_FILES:
        doc = load_yaml(path)
        loaded = sorted((path.parent / f).resolve() for f in doc["rule_files"])
        assert loaded == sorted(p.resolve() for p in RULE_FILES), path.name
        order = doc.get("group_eval_order", [])
        assert sorted(order) == sorted(groups), f"{path.name}: group_eval_order incomplete"
        recording = {
            g["name"] for g in load_yaml(PROMETHEUS_DIR / "rules" / "recording.yml")["groups"]
        }
        first = order[: len(recording)]
        assert set(first) == recording, f"{path.name}: recording groups must come first"
