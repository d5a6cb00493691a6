"""`kefu bench` (what `make bench` runs) prints its JSON with both loads and their ratios."""

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.e2e


def test_bench_prints_throughput_latency_and_the_raw_broker_ratio() -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "kefu.cli",
            "bench",
            "--messages",
            "60",
            "--rate",
            "20",
            "--seed",
            "50",
            "--routed",
            "--timers",
            "200",
            "--workspace-tickets",
            "300",
        ],
        capture_output=True,
        timeout=180,
        check=True,
    )
    result = json.loads(done.stdout)
    for load in ("raw_broker", "kefu", "routed", "mail_in"):
        assert result[load]["throughput_per_s"] > 0
        latency = result[load]["latency_ms"]
        assert 0 < latency["p50"] <= latency["p90"] <= latency["p99"] <= latency["max"]
    assert (
        set(result["ratio"])
        == set(result["routed_ratio"])
        == {
            "throughput",
            "p50_latency",
            "p99_latency",
        }
    )
    costs = result["kefu"]["burst_costs"]
    assert costs["intake_store_commands_per_message"] > 0
    assert costs["intake_cpu_ms_per_message"] > 0
    assert result["tickets_stored_before"] == 50 and len(result["services_running"]) == 7
    [timers] = result["sla_timers"]
    assert timers["armed_timers"] == timers["fired_in_window"] == 200
    fired = timers["fire_lateness_ms"]
    assert 0 <= fired["p50"] <= fired["p99"] <= fired["max"] < 1000
    assert timers["sla_rss_mb"] > 0
    desk = result["workspace"]
    assert desk["tickets_stored"] == 300 and desk["caught_up_after_kefu_burst_s"] >= 0
    for read in ("conversation", "search", "my_tickets"):
        assert 0 < desk["reads"][read]["p50_ms"] <= desk["reads"][read]["p99_ms"]
