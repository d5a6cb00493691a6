"""`kefu bench --runs N` (what `make bench` prints for the docs): every figure of the runs as
its median with the spread, whatever its place in the report."""

from kefu.bench import spread


def test_numbers_become_median_and_range_and_the_rest_stays() -> None:
    runs = [
        {"routed": {"latency_ms": {"p99": p99}}, "backend": "embedded", "ok": True, "timers": t}
        for p99, t in ((120.0, [{"p99": 5}]), (90.5, [{"p99": 9}]), (300.0, [{"p99": 7}]))
    ]
    assert spread(runs) == {
        "routed": {"latency_ms": {"p99": {"median": 120.0, "min": 90.5, "max": 300.0}}},
        "backend": "embedded",
        "ok": True,
        "timers": [{"p99": {"median": 7, "min": 5, "max": 9}}],
    }


def test_a_figure_missing_from_a_run_is_left_out() -> None:
    assert spread([{"a": 1, "b": 2}, {"a": 3}]) == {"a": {"median": 2.0, "min": 1, "max": 3}}
