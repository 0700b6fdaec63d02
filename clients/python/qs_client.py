"""Drives QuantumState with the official MCP Python SDK (PyPI `mcp`), standing in for
Claude Desktop, Claude Code or any other MCP app, and checks every feature a client uses.

The server is reached the way an app would reach it:

  stdio [--env K=V]... -- COMMAND [ARGS...]
      launch COMMAND as a stdio server (the SDK passes only HOME, PATH, USER... plus --env)
  http URL [--header 'Name: value']...
      streamable HTTP
  config FILE NAME [--set PLACEHOLDER=VALUE]...
      the entry NAME of FILE's "mcpServers" (Claude Desktop's claude_desktop_config.json
      shape, and this repository's mcp_config.json), after textual substitutions
  claude-add [--set PLACEHOLDER=VALUE]... -- claude mcp add ...
      the server a `claude mcp add ...` command line would register in Claude Code

Checks, in order: connect (mode `auto` sends server/discover first and falls back to
initialize; `legacy` sends initialize), tools/list, a read tool (find_similar_incidents
on seeded data), a dry-run mutation (record_decision with dry_run true, which must
write nothing: list_decisions is unchanged), resources/list and the first runbook read,
prompts/list and investigate_incident, completion, and on handshake-era sessions
logging/setLevel and ping (2026-07-28 removed both). One JSON report on stdout;
exit 1 with the reason on stderr when anything is off.

`--expect-refusal REASON` turns the run around: connecting must fail, quickly and
without hanging, with an error that carries REASON (the server's words for a missing
or wrong bearer token).
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import traceback
from typing import Any

import anyio
import httpx2
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import MCP_DEFAULT_SSE_READ_TIMEOUT, MCP_DEFAULT_TIMEOUT
from mcp_types import PromptReference

SERVICE = "payment-service"
READ_TOOL = "find_similar_incidents"
DRY_RUN_TOOL = "record_decision"


class CheckFailed(Exception):
    """A check did not hold; the message says which and what was seen."""


def check(cond: bool, what: str) -> None:
    if not cond:
        raise CheckFailed(what)


# ---------- targets ----------


def substitute(text: str, sets: list[str]) -> str:
    for s in sets:
        key, _, value = s.partition("=")
        text = text.replace(key, value)
    return text


def stdio_target(command: str, args: list[str], env: dict[str, str] | None) -> dict[str, Any]:
    return {"kind": "stdio", "command": command, "args": args, "env": env or {}}


def http_target(url: str, headers: dict[str, str]) -> dict[str, Any]:
    return {"kind": "http", "url": url, "headers": headers}


def parse_headers(pairs: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for h in pairs:
        name, sep, value = h.partition(":")
        if not sep:
            raise SystemExit(f"header {h!r} is not 'Name: value'")
        out[name.strip()] = value.strip()
    return out


def config_target(path: str, name: str, sets: list[str]) -> dict[str, Any]:
    """An `mcpServers` entry, read as Claude Desktop and Claude Code read them."""
    with open(path, encoding="utf-8") as f:
        text = substitute(f.read(), sets)
    servers = json.loads(text).get("mcpServers")
    check(isinstance(servers, dict), f"{path} has no mcpServers object")
    entry = servers.get(name)
    check(isinstance(entry, dict), f"{path} has no server {name!r}; it has {sorted(servers)}")
    kind = entry.get("type", "stdio" if "command" in entry else None)
    if kind == "stdio":
        return stdio_target(entry["command"], list(entry.get("args", [])), entry.get("env"))
    if kind in ("http", "streamable-http"):
        return http_target(entry["url"], dict(entry.get("headers", {})))
    raise CheckFailed(f"server {name!r}: unsupported type {kind!r}")


def claude_add_target(words: list[str], sets: list[str]) -> dict[str, Any]:
    """What `claude mcp add [options] NAME COMMAND_OR_URL [ARGS...]` registers.

    Options as Claude Code documents them: -t/--transport stdio|http|sse, -e/--env
    KEY=value, -H/--header 'Name: value', -s/--scope; `--` ends the options.
    """
    words = [substitute(w, sets) for w in words]
    check(words[:3] == ["claude", "mcp", "add"], f"not a `claude mcp add` line: {words[:3]}")
    rest = words[3:]
    transport, env, headers, positional = "stdio", {}, {}, []
    i = 0
    while i < len(rest):
        w = rest[i]
        if w == "--":
            positional.extend(rest[i + 1 :])
            break
        if positional and transport == "stdio" and len(positional) >= 2:
            positional.extend(rest[i:])  # the server's own arguments
            break
        if w in ("-t", "--transport"):
            transport, i = rest[i + 1], i + 2
        elif w.startswith("--transport="):
            transport, i = w.split("=", 1)[1], i + 1
        elif w in ("-e", "--env"):
            k, _, v = rest[i + 1].partition("=")
            env[k] = v
            i += 2
        elif w in ("-H", "--header"):
            headers.update(parse_headers([rest[i + 1]]))
            i += 2
        elif w in ("-s", "--scope"):
            i += 2
        elif w.startswith("-"):
            raise CheckFailed(f"unknown `claude mcp add` option {w!r}")
        else:
            positional.append(w)
            i += 1
    check(len(positional) >= 2, f"`claude mcp add` needs NAME and a command or URL: {positional}")
    if transport == "http":
        return http_target(positional[1], headers)
    check(transport == "stdio", f"unsupported transport {transport!r}")
    return stdio_target(positional[1], positional[2:], env)


# ---------- the client ----------


def make_client(
    target: dict[str, Any], mode: str, logs: list[Any] | None = None
) -> tuple[Client, httpx2.AsyncClient | None]:
    async def on_log(params: Any) -> None:
        if logs is not None:
            logs.append(params)

    # log_level opts in to log notifications on 2026-07-28 connections (per request).
    opts: dict[str, Any] = {"mode": mode, "read_timeout_seconds": 60, "logging_callback": on_log, "log_level": "info"}
    if target["kind"] == "stdio":
        params = StdioServerParameters(command=target["command"], args=target["args"], env=target["env"] or None)
        return Client(params, **opts), None
    # The SDK's default client (create_mcp_http_client), minus proxies from the environment:
    # the server under test is on loopback.
    http = httpx2.AsyncClient(
        headers=target["headers"],
        timeout=httpx2.Timeout(MCP_DEFAULT_TIMEOUT, read=MCP_DEFAULT_SSE_READ_TIMEOUT),
        trust_env=False,
    )
    transport = streamable_http_client(target["url"], http_client=http)
    return Client(transport, **opts), http


def text_of(result: Any) -> str:
    return "\n".join(getattr(c, "text", "") for c in result.content if getattr(c, "text", None))


async def call(client: Client, name: str, args: dict[str, Any]) -> dict[str, Any]:
    r = await client.call_tool(name, args)
    check(not r.is_error, f"{name} {args} failed: {text_of(r)[:500]}")
    sc = r.structured_content
    check(isinstance(sc, dict), f"{name} returned no structuredContent: {text_of(r)[:300]}")
    # The text block carries the same JSON (for clients that ignore structuredContent).
    check(json.loads(text_of(r)) == sc, f"{name}: text content differs from structuredContent")
    return sc


async def session(target: dict[str, Any], mode: str) -> dict[str, Any]:
    logs: list[Any] = []
    client, http = make_client(target, mode, logs)
    report: dict[str, Any] = {"mode": mode, "transport": target["kind"]}
    try:
        async with client:
            report["protocol_version"] = client.protocol_version
            info = client.server_info
            report["server"] = info.name if info else None
            check(report["server"] == "quantumstate", f"server name is {report['server']!r}")
            caps = client.server_capabilities
            for cap in ("tools", "prompts", "resources", "completions"):
                check(getattr(caps, cap, None) is not None, f"capability {cap} is not declared")

            tools = await client.list_tools()
            names = sorted(t.name for t in tools.tools)
            report["tools"] = len(names)
            for needed in (READ_TOOL, DRY_RUN_TOOL, "list_decisions", "list_services"):
                check(needed in names, f"tools/list lacks {needed}: {names}")
            for t in tools.tools:
                check(t.input_schema.get("type") == "object", f"{t.name}: inputSchema is not an object schema")
                check(t.output_schema is not None, f"{t.name}: no outputSchema")
                check(t.annotations is not None and t.annotations.read_only_hint is not None, f"{t.name}: no annotations")

            found = await call(client, READ_TOOL, {"description": "heap keeps growing after a deploy", "limit": 3})
            report["similar_incidents"] = [i["id"] for i in found.get("incidents", [])]
            check(report["similar_incidents"], f"{READ_TOOL} found nothing on seeded data: {found}")

            before = await call(client, "list_decisions", {"service": SERVICE, "limit": 200})
            plan = await call(
                client,
                DRY_RUN_TOOL,
                {
                    "agent": "python-sdk",
                    "decision": "dry run from the MCP Python SDK test",
                    "confidence": 42,
                    "service": SERVICE,
                    "dry_run": True,
                },
            )
            check(plan.get("dry_run") is True, f"{DRY_RUN_TOOL} dry run did not say dry_run: {plan}")
            after = await call(client, "list_decisions", {"service": SERVICE, "limit": 200})
            check(after == before, "a dry run wrote a decision")
            report["dry_run"] = "nothing written"

            resources = await client.list_resources()
            uris = [r.uri for r in resources.resources]
            check("quantumstate://fleet" in uris, f"resources/list lacks quantumstate://fleet: {uris[:5]}")
            runbooks = [u for u in uris if u.startswith("runbook://")]
            check(runbooks, f"no runbook:// resources listed: {uris[:5]}")
            templates = await client.list_resource_templates()
            report["resource_templates"] = sorted(t.uri_template for t in templates.resource_templates)
            check("runbook://{id}" in report["resource_templates"], "no runbook://{id} template")
            read = await client.read_resource(runbooks[0])
            body = json.loads(read.contents[0].text)
            check(f"runbook://{body.get('id')}" == runbooks[0], f"{runbooks[0]} read back as {str(body)[:200]}")
            report["resource_read"] = runbooks[0]

            prompts = await client.list_prompts()
            pnames = sorted(p.name for p in prompts.prompts)
            check({"investigate_incident", "run_chaos_drill"} <= set(pnames), f"prompts: {pnames}")
            prompt = await client.get_prompt("investigate_incident", {"service": SERVICE})
            ptext = " ".join(getattr(m.content, "text", "") for m in prompt.messages)
            check(SERVICE in ptext and "detect_anomalies" in ptext, f"prompt text: {ptext[:200]}")
            report["prompt"] = "investigate_incident"

            done = await client.complete(PromptReference(name="run_chaos_drill"), {"name": "kind", "value": "mem"})
            check("memory_leak" in done.completion.values, f"completion for kind 'mem': {done.completion.values}")
            report["completion"] = done.completion.values

            if client.protocol_version < "2026-07-28":
                # Both were removed in 2026-07-28; the handshake-era session still has them.
                await client.set_logging_level("info")
                await client.send_ping()
                report["ping"] = "pong"
            report["log_messages"] = len(logs)
    finally:
        if http is not None:
            await http.aclose()
    return report


async def expect_refusal(target: dict[str, Any], mode: str, reason: str) -> dict[str, Any]:
    """Connecting must fail, promptly, with an error that gives the server's reason."""
    client, http = make_client(target, mode)
    try:
        with anyio.fail_after(30):
            async with client:
                await client.list_tools()
    except TimeoutError:
        raise CheckFailed("the refused client hung instead of failing") from None
    except Exception as e:  # noqa: BLE001 - the SDK raises MCPError, often inside exception groups
        messages = _messages(e)
        check(any(reason in m for m in messages), f"refused, but not saying {reason!r}: {messages}")
        return {"refused": True, "error": next(m for m in messages if reason in m)}
    finally:
        if http is not None:
            await http.aclose()
    raise CheckFailed(f"the server accepted a client it should refuse ({reason!r})")


def _messages(e: BaseException) -> list[str]:
    out = [str(e)]
    for sub in getattr(e, "exceptions", ()) or ():
        out.extend(_messages(sub))
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--mode", choices=["auto", "legacy"], default="auto")
    p.add_argument("--expect-refusal", metavar="REASON", help="connecting must fail with an error containing REASON")
    p.add_argument("--timeout", type=float, default=90, help="bound on the whole run, seconds")
    sub = p.add_subparsers(dest="target", required=True)
    s = sub.add_parser("stdio")
    s.add_argument("--env", action="append", default=[], metavar="K=V")
    s.add_argument("command", nargs=argparse.REMAINDER)
    h = sub.add_parser("http")
    h.add_argument("url")
    h.add_argument("--header", action="append", default=[])
    c = sub.add_parser("config")
    c.add_argument("file")
    c.add_argument("name")
    c.add_argument("--set", action="append", default=[], metavar="PLACEHOLDER=VALUE")
    a = sub.add_parser("claude-add")
    a.add_argument("--set", action="append", default=[], metavar="PLACEHOLDER=VALUE")
    a.add_argument("words", nargs=argparse.REMAINDER)
    o = p.parse_args()

    try:
        if o.target == "stdio":
            cmd = o.command[1:] if o.command[:1] == ["--"] else o.command
            check(bool(cmd), "stdio needs -- COMMAND [ARGS...]")
            env = dict(e.partition("=")[::2] for e in o.env)
            target = stdio_target(cmd[0], cmd[1:], env)
        elif o.target == "http":
            target = http_target(o.url, parse_headers(o.header))
        elif o.target == "config":
            target = config_target(o.file, o.name, o.set)
        else:
            words = o.words[1:] if o.words[:1] == ["--"] else o.words
            if len(words) == 1:
                words = shlex.split(words[0])
            target = claude_add_target(words, o.set)

        async def run() -> dict[str, Any]:
            with anyio.fail_after(o.timeout):
                if o.expect_refusal:
                    return await expect_refusal(target, o.mode, o.expect_refusal)
                return await session(target, o.mode)

        report = anyio.run(run)
    except CheckFailed as e:
        print(f"qs_client: check failed: {e}", file=sys.stderr)
        return 1
    except TimeoutError:
        print(f"qs_client: no answer within {o.timeout} s", file=sys.stderr)
        return 1
    except Exception as e:  # noqa: BLE001 - report any SDK error as a failed run, with its trace
        traceback.print_exc()
        print(f"qs_client: the client failed: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    print(json.dumps(report, sort_keys=True))
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
