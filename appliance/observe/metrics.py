"""`GET /metrics` in the Prometheus text format. One registry per appliance (no globals):
counters and histograms are updated as questions are answered and files indexed; gauges
are read from the live objects when Prometheus scrapes."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily

from appliance.observe.record import QueryRecord

SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.questions = Counter(
            "appliance_questions", "Questions by outcome", ["outcome"], registry=r
        )
        self.retrieval = Histogram(
            "appliance_retrieval_seconds",
            "Query embedding and hybrid search",
            buckets=SECONDS,
            registry=r,
        )
        self.first_token = Histogram(
            "appliance_first_token_seconds",
            "Time to the first answer token, queue included",
            buckets=SECONDS,
            registry=r,
        )
        self.total = Histogram(
            "appliance_answer_seconds", "Whole answer", buckets=SECONDS, registry=r
        )
        self.files = Counter(
            "appliance_files_processed",
            "Files processed by the indexer, by resulting status",
            ["status"],
            registry=r,
        )

    def observe_query(self, record: QueryRecord) -> None:
        self.questions.labels(record.outcome).inc()
        t = record.timings
        if "embed_ms" in t:
            self.retrieval.observe((t["embed_ms"] + t.get("search_ms", 0)) / 1000)
        if "first_token_ms" in t:
            self.first_token.observe((t["first_token_ms"] + t.get("queue_ms", 0)) / 1000)
        if "total_ms" in t:
            self.total.observe(t["total_ms"] / 1000)

    def watch(self, gauges: Callable[[], dict[str, tuple[str, dict[str, float] | float]]]):
        """Gauges computed at scrape time: name → (help, value or {label: value})."""
        self.registry.register(_Gauges(gauges))

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class _Gauges:
    def __init__(self, read):
        self.read = read

    def collect(self):
        for name, (help_text, value) in self.read().items():
            if isinstance(value, dict):
                family = GaugeMetricFamily(name, help_text, labels=["status"])
                for label, v in value.items():
                    family.add_metric([label], v)
            else:
                family = GaugeMetricFamily(name, help_text, value=value)
            yield family
