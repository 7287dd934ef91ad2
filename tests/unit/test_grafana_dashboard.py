"""The Grafana dashboard (infra/grafana/crashflow.json) loads, and every panel's queries name
metrics crashflow exposes (shared/crashflow/metrics.py), with labels those metrics have."""

import json
import re
from pathlib import Path

from prometheus_client.metrics import MetricWrapperBase

from crashflow import metrics

DASHBOARD = Path(__file__).resolve().parents[2] / "infra" / "grafana" / "crashflow.json"
SUFFIXES = {"counter": ("_total",), "gauge": ("",), "histogram": ("_bucket", "_sum", "_count")}
PROMQL_WORDS = {"sum", "by", "rate", "increase", "max", "histogram_quantile", "le", "without", "avg", "min"}


def exposed() -> dict[str, set[str]]:
    """Every sample name crashflow exposes -> its label names (``le`` for buckets)."""
    names = {}
    for value in vars(metrics).values():
        if isinstance(value, MetricWrapperBase):
            for suffix in SUFFIXES[value._type]:
                labels = set(value._labelnames) | ({"le"} if suffix == "_bucket" else set())
                names[value._name + suffix] = labels
    return names


def panels(dashboard: dict):
    for panel in dashboard["panels"]:
        yield panel
        yield from panel.get("panels", [])


def test_the_dashboard_loads_and_lays_out():
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["uid"] and dashboard["title"] == "crashflow"
    graphs = [panel for panel in panels(dashboard) if panel["type"] != "row"]
    assert len(graphs) >= 20
    ids = [panel["id"] for panel in panels(dashboard)]
    assert len(ids) == len(set(ids))
    for panel in graphs:
        assert panel["targets"], panel["title"]
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]


def test_every_query_names_metrics_and_labels_that_exist():
    dashboard = json.loads(DASHBOARD.read_text())
    known = exposed()
    used = set()
    for panel in panels(dashboard):
        for target in panel.get("targets", []):
            expr = target["expr"]
            names = set(re.findall(r"\bcrashflow_[a-z_]+\b", expr))
            assert names, (panel["title"], expr)
            for name in names:
                assert name in known, f"{panel['title']}: {name} is not a metric crashflow exposes"
                used.add(name)
            # Labels in selectors and in by (...) belong to every metric of the expression.
            labels = set(re.findall(r"(\w+)=~?\"", expr))
            for group in re.findall(r"by \(([^)]*)\)", expr):
                labels |= {label.strip() for label in group.split(",")}
            for name in names:
                missing = labels - known[name]
                assert not missing, f"{panel['title']}: {name} has no label(s) {sorted(missing)}"
            legend_labels = set(re.findall(r"\{\{(\w+)\}\}", target.get("legendFormat", "")))
            assert legend_labels <= labels, (panel["title"], legend_labels - labels)
    # And every metric is on the dashboard somewhere.
    base_names = {name for name in known if not name.endswith(("_sum", "_count"))}
    shown = {re.sub(r"_(bucket|sum|count)$", "", name) for name in used}
    unshown = {name for name in base_names if re.sub(r"_(bucket|total)$", "", name) not in
               {re.sub(r"_total$", "", s) for s in shown}}
    assert not unshown, f"metrics on no panel: {sorted(unshown)}"
