"""A destructive call through the official MCP Python SDK, where the client's user is
asked to approve it: over protocol 2026-07-28 the server answers `input_required` with a
form (a multi round-trip request); with `--mode legacy` (an initialize handshake, an
older protocol) it sends `elicitation/create` while the call waits.

  approval_probe.py --server BIN --store SPEC --mode mrtr|legacy \
      --answer accept|decline|none --tool stop_container --args '{"service": "..."}' \
      [--approval destructive|mutations]

The stdio server runs with `--approval` as given (default `destructive`; stdio trusts its
client's answer by default). `--answer none` dismisses the form (action "cancel"). Prints one JSON report:
the protocol, whether and what the user was asked, and the call's structured result or
error.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import anyio
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp_types import ElicitResult


async def probe(a: argparse.Namespace) -> dict[str, Any]:
    asked: list[str] = []

    async def answer(_context: Any, params: Any) -> ElicitResult:
        asked.append(getattr(params, "message", ""))
        if a.answer == "accept":
            return ElicitResult(action="accept", content={"approve": True})
        if a.answer == "decline":
            return ElicitResult(action="decline")
        return ElicitResult(action="cancel")

    server = StdioServerParameters(
        command=a.server,
        args=["stdio", "--store", a.store, "--approval", a.approval],
        env={"QS_LOG": "warn"},
    )
    mode = "legacy" if a.mode == "legacy" else "2026-07-28"
    async with Client(server, mode=mode, elicitation_callback=answer) as client:
        result = await client.call_tool(a.tool, json.loads(a.args))
        return {
            "protocol": client.protocol_version,
            "asked": len(asked),
            "question": asked[0] if asked else None,
            "is_error": bool(result.is_error),
            "structured": result.structured_content,
        }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--server", required=True)
    p.add_argument("--store", required=True)
    p.add_argument("--mode", choices=["mrtr", "legacy"], required=True)
    p.add_argument("--answer", choices=["accept", "decline", "none"], required=True)
    p.add_argument("--tool", default="stop_container")
    p.add_argument("--args", required=True)
    p.add_argument("--approval", choices=["destructive", "mutations"], default="destructive")
    a = p.parse_args()
    try:
        report = anyio.run(probe, a)
    except Exception as e:  # the report says what failed; the test reads it
        print(f"approval probe failed: {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
