"""The cpu section's figures: each judged against issue 11's goal, next to its reference."""

from __future__ import annotations

from gemini_workflow.bench.report import Report
from gemini_workflow.bench.sections import cpu, cpu_cold, cpu_latency
from gemini_workflow.bench.targets import MINIMAL, RAW, REST, SERVICE, SERVICE_X2


def test_cpu_per_request_is_met_only_at_or_under_the_minimal_peers() -> None:
    for service, met in ((1.3, True), (1.4, True), (1.5, False)):
        report = Report()
        cpu.add_cpu_figures(
            report,
            {SERVICE.label: [service], MINIMAL.label: [1.4], RAW.label: [0.6], REST.label: [0.7]},
            {SERVICE.label: [300.0], MINIMAL.label: [250.0], RAW.label: [310.0], REST.label: []},
        )
        (first, raw, rest) = report.figures
        assert (first.key, first.met) == ("cpu_per_generate", met)
        assert first.reference is not None
        assert first.reference.median == 1.4
        assert raw.met is None
        assert rest.met is None
        assert "service on host 300" in first.note


def test_only_the_one_worker_service_is_judged_for_throughput() -> None:
    report = Report()
    chosen = [SERVICE, SERVICE_X2, MINIMAL, RAW]
    rates = {t.label: [230.0] for t in chosen}
    peaks = {t.label: 90.0 for t in chosen}

    cpu.add_throughput_figures(report, chosen, rates, {t.label: [1.2] for t in chosen}, peaks)

    verdicts = [(f.title, f.met) for f in report.figures]
    assert verdicts[0] == ("(11.2) 2xx/s at 128 clients, service on host", True)  # 90% >= 85%
    assert [met for _, met in verdicts[1:]] == [None, None, None, None]
    assert report.figures[-1].key == "host_peak_rss"


def test_added_latency_is_judged_for_p50_only_and_names_the_floor() -> None:
    added = {
        t.label: {"p50": [p50], "p99": [9.0]}
        for t, p50 in ((SERVICE, 2.1), (MINIMAL, 2.5), (RAW, 0.9), (REST, 1.0))
    }
    report = Report()

    cpu_latency.add_latency_figures(report, added, [10.4])

    figures = {f.key: f for f in report.figures}
    assert figures["host_added_p50_service"].met is False  # 2.1 ms is not under 2 ms
    assert figures["host_added_p50_rest"].met is True
    assert figures["host_added_p99_service"].met is None
    assert "raw floor adds p50 0.90 ms" in figures["host_added_p50_service"].note


def test_cold_start_goals_are_0_8_s_to_health_and_1_2_s_to_generate() -> None:
    found = {
        t.label: {"health": [0.79, 0.81, 0.85], "generate": [1.1], "rss": [80.0]}
        for t in (SERVICE, MINIMAL, RAW, REST)
    }
    report = Report()

    cpu_cold.add_figures(report, found)

    figures = {f.key: f for f in report.figures}
    assert figures["process_start_health_service"].met is False  # median 0.81 s
    assert figures["process_start_generate_service"].met is True
    assert figures["idle_rss_service"].met is None


def test_import_times_keep_the_heavy_modules_cumulative_ms() -> None:
    stderr = (
        "import time: self [us] | cumulative | imported package\n"
        "import time:       120 |        250 |   pydantic.main\n"
        "import time:      1000 |     219000 | google.genai\n"
        "import time:        50 |      26000 |     uvicorn\n"
    )

    assert cpu_cold.import_times(stderr) == {"google.genai": 219.0, "uvicorn": 26.0}
