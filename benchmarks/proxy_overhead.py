"""What Envoy adds to a request, and how fast a weight change reaches an open connection.

Runs one upstream on 127.0.0.1, an `EnvoyProxy` in front of it, and sends N sequential keep-alive
requests straight to the upstream and through Envoy, in alternating blocks so both sides see the
same machine load. Prints p50/p99 of each side and what Envoy adds (target: p99 added < 1 ms),
then the time from `update()` to the first answer of the new version on an open connection.

    .venv/bin/python benchmarks/proxy_overhead.py [--requests 20000] [--max-seconds 60]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from clearance.agent.envoy import EnvoyProxy
from support.envoy import RawClient, free_port

BLOCK = 100
SUPPORT = Path(__file__).resolve().parent.parent / "tests"


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]


def measure(
    direct: RawClient, proxied: RawClient, requests: int, deadline: float
) -> tuple[list[float], list[float]]:
    """Latencies in µs, alternating blocks of BLOCK requests between the two clients."""
    samples: tuple[list[float], list[float]] = ([], [])
    clock = time.perf_counter_ns
    while len(samples[1]) < requests and time.monotonic() < deadline:
        for client, into in ((direct, samples[0]), (proxied, samples[1])):
            for _ in range(BLOCK):
                started = clock()
                client.get()
                into.append((clock() - started) / 1000)
    return samples


def switch_latency(proxy: EnvoyProxy, upstreams: dict[str, int], rounds: int) -> list[float]:
    """ms from calling update() to the first answer of the new version on the same connection."""
    client = RawClient(proxy.port)
    endpoints = {v: [port] for v, port in upstreams.items()}
    results = []
    try:
        for i in range(rounds):
            target = "b" if i % 2 == 0 else "a"
            started = time.perf_counter()
            proxy.update(endpoints, {"a": 0, "b": 100} if target == "b" else {"a": 100, "b": 0})
            while client.get().decode() != target:
                if time.perf_counter() - started > 2:
                    raise RuntimeError("the weight change did not arrive within 2 s")
            results.append((time.perf_counter() - started) * 1000)
            time.sleep(0.02)
    finally:
        client.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20_000, help="requests per side")
    parser.add_argument("--max-seconds", type=float, default=60.0, help="stop measuring after this")
    parser.add_argument("--switches", type=int, default=20, help="weight changes to time")
    args = parser.parse_args()

    # The upstreams run in a process of their own: in this one they would compete for the GIL
    # with the client and add the wait to whichever side happens to hit it.
    server = subprocess.Popen(
        [sys.executable, str(SUPPORT / "support" / "envoy.py"), "a", "b"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdout is not None and server.stdin is not None
    upstreams = {v: int(server.stdout.readline()) for v in ("a", "b")}
    with tempfile.TemporaryDirectory(prefix="clearance-bench-") as workdir:
        proxy = EnvoyProxy(Path(workdir), name="bench", port=free_port(), listen_address="127.0.0.1")
        started = time.perf_counter()
        proxy.start()
        ready_ms = (time.perf_counter() - started) * 1000
        try:
            proxy.update({v: [port] for v, port in upstreams.items()}, {"a": 100, "b": 0})
            proxy.wait_applied({"a": 100})
            direct, proxied = RawClient(upstreams["a"]), RawClient(proxy.port)
            measure(direct, proxied, 2 * BLOCK, time.monotonic() + 10)  # warm up both paths
            deadline = time.monotonic() + args.max_seconds
            straight, through = measure(direct, proxied, args.requests, deadline)
            direct.close()
            proxied.close()
            switches = switch_latency(proxy, upstreams, args.switches)
            load = os.getloadavg()[0]
        finally:
            proxy.stop(drain_seconds=0)
            server.stdin.close()
            server.wait(timeout=10)

    p50 = (percentile(straight, 50), percentile(through, 50))
    p99 = (percentile(straight, 99), percentile(through, 99))
    print(f"requests per side: {len(through)} sequential on one keep-alive connection")
    print(f"{'':18}{'p50 µs':>10}{'p99 µs':>10}")
    print(f"{'upstream direct':18}{p50[0]:>10.0f}{p99[0]:>10.0f}")
    print(f"{'through Envoy':18}{p50[1]:>10.0f}{p99[1]:>10.0f}")
    added = p99[1] - p99[0]
    verdict = "met" if added < 1000 else "missed"
    print(f"{'added by Envoy':18}{p50[1] - p50[0]:>10.0f}{added:>10.0f}   (target p99 < 1000: {verdict})")
    print(f"Envoy start to LIVE: {ready_ms:.0f} ms")
    print(
        f"weight change on an open connection, {len(switches)} switches: "
        f"median {statistics.median(switches):.1f} ms, max {max(switches):.1f} ms"
    )
    # Both sides share the machine, but the path through Envoy wakes two more threads per request,
    # so other work on a small machine shows in its tail first: the load says how quiet it was.
    print(f"load average during the run: {load:.2f} (1 min, {os.cpu_count()} CPUs)")


if __name__ == "__main__":
    main()
