"""A memory-leak drill on the live fleet, driven through MCP tools alone, printed as a
transcript: what an agent calls (→) and the parts of each answer it acts on (←).

Seed 001's first scenario: inject a real leak into payment-service → detect it → recall
a similar incident and the runbook → record the decision → restart (dry run, then with
its plan) → verify_recovery → record the incident → read the audit trail.

Needs the demo fleet and its scraper (scripts/demo.sh) and the Python SDK
(scripts/setup-clients.sh). From the checkout:

    clients/.venv/bin/python clients/python/leak_drill.py \\
        --server target/x86_64-unknown-linux-gnu/release/quantumstate-mcp \\
        --store sqlite:$PWD/data/quantumstate.db

Exit 1 with the reason when a step does not hold (nothing is left injected: the fault
has a TTL, and a failed run resets it).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

import anyio
from mcp import Client
from mcp.client.stdio import StdioServerParameters

SERVICE = "payment-service"


class Failed(Exception):
    """A step did not hold; the message says which and what was seen."""


def out(line: str) -> None:
    print(line, flush=True)


def brief(v: Any, limit: int = 160) -> str:
    text = json.dumps(v, ensure_ascii=False, separators=(", ", ": "))
    return text if len(text) <= limit else text[: limit - 1] + "…"


class Agent:
    def __init__(self, client: Client) -> None:
        self.client = client
        self.started = time.monotonic()

    def stamp(self) -> str:
        return f"[{time.monotonic() - self.started:5.1f}s]"

    async def call(self, tool: str, args: dict[str, Any], quiet: bool = False) -> dict[str, Any]:
        if not quiet:
            out(f"{self.stamp()} → {tool} {brief(args, 200)}")
        r = await self.client.call_tool(tool, args)
        sc = r.structured_content
        if r.is_error or not isinstance(sc, dict):
            text = "\n".join(getattr(c, "text", "") for c in r.content)
            raise Failed(f"{tool} failed: {text[:600]}")
        return sc

    def says(self, what: str) -> None:
        out(f"        ← {what}")


async def anomalies_until(agent: Agent, pred, within: float) -> list[dict[str, Any]]:
    deadline = time.monotonic() + within
    polls = 0
    while True:
        d = await agent.call("detect_anomalies", {}, quiet=polls > 0)
        polls += 1
        found = [a for a in d.get("anomalies", []) if pred(a)]
        if found:
            if polls > 1:
                agent.says(f"(polled detect_anomalies {polls} times)")
            return found
        if time.monotonic() > deadline:
            raise Failed(f"not detected within {within} s: {brief(d, 600)}")
        await anyio.sleep(1)


async def drill(agent: Agent) -> None:
    # Start from a quiet fleet (a previous drill's errors take a minute to leave the window).
    deadline = time.monotonic() + 150
    polls = 0
    while True:
        d = await agent.call("detect_anomalies", {}, quiet=polls > 0)
        polls += 1
        healthy = [s["service"] for s in d["services"] if s.get("status") == "healthy"]
        if not d["anomalies"] and len(healthy) == len(d["services"]):
            break
        if time.monotonic() > deadline:
            raise Failed(f"the fleet is not quiet: {brief(d['anomalies'], 600)}")
        await anyio.sleep(2)
    agent.says(f"{len(healthy)} of {len(d['services'])} services healthy, {len(d['anomalies'])} anomalies")

    args = {"service": SERVICE, "kind": "memory_leak", "ttl_seconds": 600, "mb_per_second": 20}
    plan = await agent.call("inject_fault", {**args, "dry_run": True})
    agent.says(f"plan {plan['plan']['plan_id']}: {brief(plan['plan']['operations'])}")
    f = await agent.call("inject_fault", {**args, "plan_id": plan["plan"]["plan_id"]})
    started_at = f["result"]["started_at"]
    agent.says(f"fault {f['result']['fault_id']} on {f['service']}, ends by itself at {f['result'].get('expires_at')}")

    leak = (await anomalies_until(agent, lambda a: a["service"] == SERVICE and a["anomaly_type"] == "memory_leak_progressive", 60))[0]
    agent.says(f"{leak['severity']} {leak['anomaly_type']} (confidence {leak['confidence']}): {leak['summary']}")
    await agent.call("record_decision", {"agent": "cassandra", "service": SERVICE, "decision": f"Leak detected: {leak['summary']}", "confidence": leak["confidence"], "context": {"anomaly": leak["anomaly_type"]}})
    agent.says("decision recorded")

    dep = await agent.call("correlate_deployments", {"service": SERVICE, "window": "1h"})
    agent.says(f"{len(dep['deployments'])} deployments in the last hour: not a bad release")
    desc = "payment-service heap memory keeps growing, HEAP_PRESSURE warnings, no recent deploy"
    sim = await agent.call("find_similar_incidents", {"description": desc, "service": SERVICE, "anomaly_type": "memory_leak_progressive", "limit": 3})
    top = sim["incidents"][0]
    agent.says(f"{top['id']} (score {top['score']}): {top['title']}, MTTR {top['mttr_seconds'] // 60} min")
    rb = (await agent.call("find_relevant_runbook", {"description": desc, "service": SERVICE, "anomaly_type": "memory_leak_progressive", "limit": 1}))["runbooks"][0]
    agent.says(f"runbook {rb['id']}: {rb['title']} → {rb['action']}")
    await agent.call("record_decision", {"agent": "archaeologist", "service": SERVICE, "decision": f"Like {top['id']}: restart per {rb['id']}", "confidence": 85, "context": {"incident": top["id"], "runbook": rb["id"]}})
    agent.says("decision recorded")

    plan = await agent.call("restart_container", {"service": SERVICE, "dry_run": True})
    p = plan["plan"]
    agent.says(f"plan {p['plan_id']}: {brief(p['operations'])}, about {p['expected_downtime_seconds']} s down")
    r = await agent.call("restart_container", {"service": SERVICE, "plan_id": p["plan_id"]})
    res = r["result"]
    agent.says(f"started {res['started_at_before']} → {res['started_at_after']}, ready: {res['readiness']['ready']}, restart count {res['restart_count']}")

    v = await agent.call("verify_recovery", {"service": SERVICE, "hold_seconds": 10, "timeout_seconds": 150})
    agent.says(f"passed: {v['passed']}, the bars held {v['held_seconds']} s over {v['samples']} samples (memory now {v['points'][-1]['memory_percent']} %)")
    if not v["passed"]:
        raise Failed("verify_recovery did not pass")
    inc = await agent.call("record_incident", {
        "service": SERVICE, "anomaly_type": "memory_leak_progressive",
        "started_at": started_at,
        "title": "Drill: payment-service memory leak cleared by restart",
        "root_cause": "memory_leak fault injected for a drill",
        "actions_taken": "restart_container after a dry run; verify_recovery passed",
    })
    agent.says(f"incident {inc['incident']['id']}, MTTR {inc['incident'].get('mttr_seconds')} s")

    window = f"{int(time.monotonic() - agent.started) + 2}s"  # this drill's records only
    audit = await agent.call("list_audit", {"service": SERVICE, "window": window, "limit": 50})
    for rec in reversed(audit["records"]):
        agent.says(f"audit: {rec['tool']:<18} {'dry run' if rec['dry_run'] else 'real':<7} {rec['outcome']:<8} by {rec['who']}")


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--server", required=True, help="the quantumstate-mcp binary")
    ap.add_argument("--store", required=True, help="QS_STORE of the scraper's store, e.g. sqlite:/abs/data/quantumstate.db")
    a = ap.parse_args()
    params = StdioServerParameters(command=a.server, args=["stdio"], env={"QS_STORE": a.store, "QS_LOG": "warn"})
    failed = None
    async with Client(params, read_timeout_seconds=200) as client:
        try:
            await drill(Agent(client))
        except Failed as e:
            failed = str(e)
            await client.call_tool("reset_faults", {"service": SERVICE})
    if failed:
        print(f"drill failed: {failed}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    anyio.run(main)
