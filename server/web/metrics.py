"""GET /metrics (DESIGN §17): Prometheus text read from the app's current state at each scrape."""
from __future__ import annotations

from collections import Counter

from flask import Blueprint, current_app
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import CollectorRegistry, CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

from ..domain import expiry
from ..domain.times import parse_time
from ..notify import deliveries
from .api import require

metrics = Blueprint("metrics", __name__)
EXTENSION = "scimwatch.metrics"
# A key with no banner due is counted as "ok", so the severities always add up to the key count.
SEVERITIES = (*expiry.SEVERITY_ORDER, "ok")


class StateCollector:
    """Reads the registry and the reminder service when scraped; holds no numbers of its own."""

    def __init__(self, app):
        self.context = app.extensions["scimwatch"]
        self.service = deliveries.service_for(app)

    def collect(self):
        """Yield every scimwatch metric family as of now."""
        now = self.context.now()
        keys = self.context.registry.keys.all()
        # One series per key (bounded by the key count), never per delivery or recipient.
        expiring = GaugeMetricFamily("scimwatch_key_expiry_timestamp_seconds", "When each watched key expires",
                                     labels=("key_id", "org_id", "directory"))
        counts: Counter = Counter()
        for record in keys:
            expires_at = parse_time(record["expires_at"])
            counts[expiry.severity(expires_at, now) or "ok"] += 1
            expiring.add_metric((record["id"], record["org_id"], record.get("directory_id") or ""),
                                expires_at.timestamp())
        by_severity = GaugeMetricFamily("scimwatch_keys", "Watched keys by banner severity", labels=("severity",))
        for name in SEVERITIES:
            by_severity.add_metric((name,), counts[name])
        yield by_severity
        yield expiring
        stats = self.service.stats
        attempts = CounterMetricFamily("scimwatch_deliveries", "Delivery attempts since start, by outcome",
                                       labels=("channel", "status"))
        for (channel, status), count in sorted(stats.attempts.items()):
            attempts.add_metric((channel, status), count)
        yield attempts
        cumulative = [(str(bound), count) for bound, count in zip(deliveries.CYCLE_BUCKETS, stats.buckets, strict=True)]
        yield HistogramMetricFamily("scimwatch_reminder_cycle_seconds", "How long each reminder cycle took",
                                    buckets=[*cumulative, ("+Inf", stats.count)], sum_value=stats.seconds)
        last = GaugeMetricFamily("scimwatch_last_cycle_timestamp_seconds",
                                 "When the last reminder cycle finished (0: none since start)")
        last.add_metric((), stats.completed_at.timestamp() if stats.completed_at else 0)
        yield last
        yield GaugeMetricFamily("scimwatch_mail_failing", "1 while sending mail fails, else 0",
                                value=1 if self.service.mail["status"] == "failing" else 0)


def install(app) -> None:
    """Give an app its own metrics registry: tests build many apps in one process."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StateCollector(app))
    app.extensions[EXTENSION] = registry
    app.register_blueprint(metrics)


@metrics.get("/metrics")
@require("metrics", public_setting="METRICS_PUBLIC")
def scrape():
    """Answer the Prometheus text exposition of the current state."""
    body = generate_latest(current_app.extensions[EXTENSION])
    response = current_app.response_class(body, mimetype="text/plain")
    response.headers["Content-Type"] = CONTENT_TYPE_LATEST
    response.headers["Cache-Control"] = "no-store"
    return response
