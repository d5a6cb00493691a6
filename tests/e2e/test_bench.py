"""`kefu bench` (what `make bench` runs) prints its JSON: every load with its ratio to the raw
broker, the costs per message of every process, and the simulated agents' work."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from contextlib import suppress
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e


@pytest.mark.timeout(300)  # every phase of a whole run, agents at work, beside another worker
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
            "--timers",
            "200",
            "--workspace-tickets",
            "300",
        ],
        capture_output=True,
        timeout=290,
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
    for load in ("kefu", "routed"):
        costs = result[load]["burst_costs"]
        assert costs["store_commands_per_message"]["intake"] > 0
        assert costs["store_commands_per_message"]["router"] > 0
        assert costs["store_documents_read_per_message"]["router"] > 0
        assert set(costs["cpu_ms_per_message"]) >= {"intake", "router", "tansu", "nx-27017"}
        assert all(cpu >= 0 for cpu in costs["cpu_ms_per_message"].values())
    idle = result["idle_cpu_percent"]
    assert set(idle) >= {"intake", "workspace", "tansu", "nx-27017"}
    assert all(0 <= percent < 100 * result["cpus"] for percent in idle.values())
    agents = result["agents"]
    assert agents["assigned"] >= 2 * (20 + 60 + 100)  # warm-up, burst, paced: kefu and routed
    assert agents["replied"] == agents["solved"] == agents["assigned"]
    assert agents["answered"] > 0
    assert result["tickets_stored_before"] == 50 and len(result["services_running"]) == 7
    [timers] = result["sla_timers"]
    assert timers["fired_in_window"] == 200
    if timers["armed_before_first_due"]:  # else some had fired before they were counted
        assert timers["armed_timers"] >= 200  # the tickets have SLAs too
    fired = timers["fire_lateness_ms"]
    assert 0 <= fired["p50"] <= fired["p99"] <= fired["max"] < 1000
    assert timers["sla_rss_mb"] > 0
    desk = result["workspace"]
    assert desk["tickets_stored"] == 300 and desk["caught_up_after_kefu_burst_s"] >= 0
    for read in ("conversation", "search", "my_tickets"):
        assert 0 < desk["reads"][read]["p50_ms"] <= desk["reads"][read]["p99_ms"]


@pytest.mark.slow  # two whole runs: 160 s of CI's 15 minutes
@pytest.mark.timeout(300)
def test_runs_on_one_stack_share_the_seed_stored_once() -> None:
    done = subprocess.run(
        [
            *(sys.executable, "-m", "kefu.cli", "bench", "--messages", "20", "--rate", "20"),
            *("--seed", "30", "--timers", "", "--workspace-tickets", "0"),
            *("--runs", "2", "--one-stack"),
        ],
        capture_output=True,
        timeout=290,
        check=True,
    )
    result = json.loads(done.stdout)
    first, second = result["runs"]
    assert [first["runs_before_on_this_stack"], second["runs_before_on_this_stack"]] == [0, 1]
    assert (
        "seed_throughput_per_s" in first["kefu"] and "seed_throughput_per_s" not in second["kefu"]
    )
    assert first["kefu"]["seed_settled_s"] >= 0  # its mails sent before the loads began
    routed = result["median_of_runs"]["routed"]["throughput_per_s"]
    assert 0 < routed["min"] <= routed["median"] <= routed["max"]
    assert b"run 2 of 2 on this stack done" in done.stderr


def children_of(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def test_a_bench_stopped_with_sigterm_stops_its_stack() -> None:
    """An operator's kill (or a CI timeout) leaves no server or service running."""
    bench = subprocess.Popen(
        [
            *(sys.executable, "-m", "kefu.cli", "bench", "--seed", "100000"),
            *("--timers", "", "--workspace-tickets", "0"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    assert bench.stderr is not None
    assert b"storing 100000 tickets first" in bench.stderr.readline()
    time.sleep(2)
    started = children_of(bench.pid)
    try:
        assert len(started) >= 9  # Tansu, nx-27017, the SMTP sink, seven services, the adapter
        bench.send_signal(signal.SIGTERM)
        bench.wait(timeout=60)
        said = bench.stderr.read().decode()
        assert "the logs and data of this run are kept in" in said
        shutil.rmtree(said.rpartition("kept in ")[2].split()[0], ignore_errors=True)
        alive = [pid for pid in started if Path(f"/proc/{pid}").exists()]
        assert alive == [], "processes outlived the bench"
    finally:
        for pid in [bench.pid, *started]:
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
