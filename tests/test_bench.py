"""bench/run.py's pure helpers on canned text: no servers, no timing."""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

SPEC = importlib.util.spec_from_file_location("bench_run", Path(__file__).resolve().parents[1] / "bench" / "run.py")
assert SPEC is not None
assert SPEC.loader is not None
run = importlib.util.module_from_spec(SPEC)
sys.modules["bench_run"] = run  # dataclasses look their module up there
SPEC.loader.exec_module(run)

WRK = """Running 4s test @ http://127.0.0.1:8000/graphql
  1 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   135.66ms   40.10ms 300.00ms   70.00%
    Req/Sec   229.00     20.00   260.00     80.00%
  Latency Distribution
     50%  135.66ms
     75%  160.00ms
     90%  200.00ms
     99%    1.20s
  913 requests in 4.00s, 11.00MB read
  Socket errors: connect 0, read 1, write 0, timeout 2
  Non-2xx or 3xx responses: 3
Requests/sec:    228.10
Transfer/sec:      2.75MB
"""


def test_bench_helpers() -> None:
    parsed = run.parse_wrk(WRK)
    assert parsed["rps"] == 228.10
    assert parsed["p50_ms"] == 135.66
    assert math.isclose(parsed["p99_ms"], 1200.0)
    assert (parsed["requests"], parsed["errors"], parsed["non2xx"]) == (913, 3, 3)
    assert "wrk.body = " in run.wrk_script('{"query":"{ a }"}')

    rows = [
        {
            "workload": "list-100",
            "connections": 32,
            "variant": v,
            "rps": rps,
            "p50_ms": 1.0,
            "p99_ms": 2.0,
            "same": True,
        }
        for v, rps in (("facade-upstream", 100.0), ("floor", 10000.0), ("hand", 200.0), ("yoga", 50.0))
    ]
    run.add_ratios(rows)
    assert (rows[0]["x_yoga"], rows[0]["x_hand"], rows[0]["x_floor"]) == (2.0, 0.5, 0.01)
    table = run.render_table(rows).splitlines()
    assert table[0].startswith("| workload | conns | variant | req/s")
    assert len(table) == 2 + len(rows)
    assert "| list-100 | 32 | facade-upstream | 100.0 |" in table[2]
    assert table[2].endswith("| 2.00 | yes |")


def test_bench_new_workloads() -> None:
    parsed = run.parse_wrk(WRK.replace("Requests/sec", "GraphQL errors: 4\nRequests/sec"))
    assert (parsed["graphql_errors"], parsed["errors"]) == (4, 7)
    script = run.wrk_script('{"query":"mutation { a }"}', {"Authorization": "Bearer t"}, count_errors=True)
    assert 'wrk.headers["Authorization"] = "Bearer t"' in script
    assert "function response" in script

    full = {w.name: w for w in run.workloads(False)}
    assert {"fragment-100", "auth-devices", "mutation"} <= set(full)
    assert full["mutation"].write
    assert full["auth-devices"].auth
    assert not full["auth-devices"].serves("yoga")
    assert full["fragment-100"].serves("hand")
    assert [w.name for w in run.workloads(True)] == ["list-100", "fragment-100"]

    rows = [{"workload": "mutation", "connections": 1, "variant": "hand", "na": True}]
    run.add_ratios(rows)
    assert "| mutation | 1 | hand | n/a |" in run.render_table(rows)
