"""The bundled sample service and the load generator, as real processes on loopback."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator

import httpx
import pytest

from clearance.demo.loadgen import LoadGenerator

Service = Callable[..., "Running"]


class Running:
    def __init__(self, process: subprocess.Popen[str], port: int) -> None:
        self.process = process
        self.port = port
        self.url = f"http://127.0.0.1:{port}"

    def get(self, path: str = "/") -> httpx.Response:
        return httpx.get(self.url + path, timeout=5)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_service(env: dict[str, str], port: int | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "clearance.demo.sample_service"],
        env={**os.environ, **env, **({"PORT": str(port)} if port else {})},
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


@pytest.fixture
def service() -> Iterator[Service]:
    started: list[subprocess.Popen[str]] = []

    def start(**env: str) -> Running:
        # The free port may be taken again before the service binds it (tests run in parallel):
        # trust only the service's own "listening … (pid N)" line, and try another port if need be.
        for _ in range(5):
            port = free_port()
            process = start_service({"VERSION": "1.0.0", **env}, port)
            started.append(process)
            assert process.stderr is not None
            if f"(pid {process.pid})" in process.stderr.readline():
                return Running(process, port)
            process.wait(timeout=10)
        raise AssertionError("the sample service did not start")

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=5)


def test_error_rate_is_exact(service: Service) -> None:
    running = service(FAULT_ERROR_RATE="0.2")
    codes = [running.get().status_code for _ in range(20)]
    assert [i + 1 for i, code in enumerate(codes) if code == 500] == [5, 10, 15, 20]
    assert running.get("/version").status_code == 200  # faults hit `/` only
    thirty = service(FAULT_ERROR_RATE="0.3")
    assert sum(thirty.get().status_code == 500 for _ in range(10)) == 3


def test_answers_version_port_and_count_with_added_latency(service: Service) -> None:
    running = service(CLEARANCE_RELEASE_VERSION="2.1.0", VERSION="ignored", FAULT_LATENCY_MS="200")
    started = time.monotonic()
    answer = running.get()
    assert time.monotonic() - started >= 0.2
    assert answer.json() == {"version": "2.1.0", "port": running.port, "count": 1}
    assert answer.headers["x-version"] == "2.1.0"
    assert running.get("/version").text == "2.1.0\n"
    assert running.get("/health").text == "ok\n"


def test_health_faults_and_startup_delay(service: Service) -> None:
    failing = service(FAULT_FAIL_HEALTH="1")
    assert failing.get("/health").status_code == 503
    starting = service(SAMPLE_STARTUP_DELAY="1")
    assert (starting.get("/health").status_code, starting.get("/health").text) == (503, "starting\n")
    time.sleep(1.0)
    assert starting.get("/health").status_code == 200


def test_crash_after_n_requests(service: Service) -> None:
    running = service(FAULT_CRASH_AFTER="2")
    assert [running.get().status_code for _ in range(2)] == [200, 200]
    assert running.process.wait(timeout=5) == 3
    assert running.process.stderr is not None
    assert "crashing on purpose after 2 requests" in running.process.stderr.read()


def parse_prometheus(text: str) -> dict[str, float]:
    """Every sample of the text exposition format, keyed by `name{labels}`; rejects malformed lines."""
    sample = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_]\w*="(?:[^"\\]|\\.)*",?)*\})? (\S+)$')
    samples: dict[str, float] = {}
    types: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            types[name] = kind
        elif not line.startswith("# HELP "):
            match = sample.match(line)
            assert match, f"not Prometheus text: {line!r}"
            assert any(match[1].startswith(name) for name in types), f"sample without TYPE: {line!r}"
            samples[match[1] + (match[2] or "")] = float(match[3])
    assert types == {"sample_requests_total": "counter", "sample_request_duration_seconds": "histogram"}
    return samples


def test_metrics_are_prometheus_text(service: Service) -> None:
    running = service(FAULT_ERROR_RATE="0.5")
    for _ in range(4):
        running.get()
    running.get("/health")  # not an application request
    response = running.get("/metrics")
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    samples = parse_prometheus(response.text)
    assert samples['sample_requests_total{version="1.0.0",code="200"}'] == 2
    assert samples['sample_requests_total{version="1.0.0",code="500"}'] == 2
    buckets = [v for k, v in samples.items() if k.startswith("sample_request_duration_seconds_bucket")]
    assert buckets == sorted(buckets) and buckets[-1] == 4
    assert samples['sample_request_duration_seconds_count{version="1.0.0"}'] == 4


def test_sigterm_drains_the_request_in_flight(service: Service) -> None:
    running = service(FAULT_LATENCY_MS="1000")
    answers: list[httpx.Response] = []
    slow = threading.Thread(target=lambda: answers.append(running.get()))
    slow.start()
    time.sleep(0.3)
    running.process.send_signal(signal.SIGTERM)
    time.sleep(0.2)
    with pytest.raises(httpx.ConnectError):
        running.get("/version")  # no new connections while draining
    slow.join(timeout=5)
    assert answers and answers[0].status_code == 200
    assert answers[0].headers["connection"] == "close"
    assert running.process.wait(timeout=5) == 0
    assert running.process.stderr is not None
    log = running.process.stderr.read().splitlines()  # the "listening" line was read by the fixture
    assert len(log) == 1 and "stopped after 1 requests (drained)" in log[0]


def test_bad_configuration_and_taken_port_exit_with_a_reason() -> None:
    missing = start_service({"PORT": ""})
    assert missing.wait(timeout=10) == 2
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = start_service({}, taken.getsockname()[1])
        _, stderr = busy.communicate(timeout=10)
        assert busy.returncode == 1 and "in use" in stderr
    missing.communicate()


# -- the load generator --------------------------------------------------------------------------


def test_loadgen_counts_answers_and_versions(service: Service) -> None:
    running = service(CLEARANCE_RELEASE_VERSION="3.0.0", FAULT_ERROR_RATE="0.25")
    generator = LoadGenerator(running.url + "/", rate=60, connections=4, max_duration=1.0)
    generator.start()
    time.sleep(1.3)  # past max_duration: it stopped by itself
    report = generator.stop()
    # Never above the rate; on a busy machine the service may not keep up with it.
    assert 30 <= report.sent <= 61, report
    assert report.failed == 0 and report.errors == []
    assert report.by_version == {"3.0.0": report.sent}
    assert report.by_status[500] == report.sent // 4 and report.ok == report.sent - report.sent // 4
    assert report.duration == pytest.approx(1.0, abs=0.05)


def test_loadgen_reports_failures_when_the_service_stops(service: Service) -> None:
    running = service()
    with LoadGenerator(running.url, rate=50, connections=2, timeout=0.5) as generator:
        time.sleep(0.5)
        running.process.send_signal(signal.SIGTERM)
        running.process.wait(timeout=5)
        time.sleep(0.5)
        before = generator.snapshot()
    report = generator.stop()
    assert before.ok > 10 and report.failed > 5
    assert report.sent == report.ok + report.failed
    assert any("ConnectError" in error for error in report.errors)


@pytest.mark.parametrize("url", ["http://example.com/", "http://10.0.0.1:8080/", "ftp://127.0.0.1/"])
def test_loadgen_refuses_anything_but_loopback(url: str) -> None:
    with pytest.raises(ValueError):
        LoadGenerator(url)
    LoadGenerator("http://localhost:8080/")
    LoadGenerator("http://[::1]:8080/")


def test_loadgen_command_prints_the_report(service: Service) -> None:
    running = service(VERSION="4.0.0")
    command = ["-m", "clearance.demo.loadgen", running.url, "--rate", "20", "--duration", "0.5", "--json"]
    result = subprocess.run([sys.executable, *command], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["schema_version"] == 1 and report["failed"] == 0
    assert report["by_version"] == {"4.0.0": report["sent"]} and 4 <= report["sent"] <= 11
