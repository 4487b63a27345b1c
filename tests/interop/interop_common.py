"""Shared plumbing for the interop client scripts.

Each script drives one third-party A2A client against a running a2a-host and
prints one JSON object per line on stdout:

- ``{"info": {...}}``: what was installed (package versions), printed first;
- ``{"check": NAME, "ok": true|false, "detail": TEXT, "http": [...]}``: one
  result per check. On failure (or always, with ``INTEROP_TRACE=1`` in the
  environment) ``http`` lists the HTTP exchanges the check made
  (``METHOD URL [A2A-Version] body -> STATUS content-type``), so a failure
  shows what went over the wire.

A script exits 0 when every check passed, 1 when one failed, and 2 on a usage
error. The Rust harness (tests/all/interop.rs) compares the check names with the
ones it expects, so a check that never ran counts as a failure too.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import traceback
from collections.abc import Awaitable, Callable
from importlib import metadata
from typing import Any

import httpx

#: Longest time one check may take. The slowest check (cancel) needs about a
#: second against the example agents; the rest is slack for a loaded machine.
CHECK_TIMEOUT_S = 30.0

#: Agents of the example set (examples/*) the checks talk to.
ECHO = "echo"
STREAMING = "streaming"
COUNTDOWN = "countdown"
MULTI_TURN = "multi-turn"

#: The sentence the `streaming` agent sends back, word by word.
STREAM_ANSWER = "You said: {}. That is worth streaming, one word at a time."


class CheckFailed(Exception):
    """A check saw something other than what the protocol promises."""


def expect(condition: Any, what: str) -> None:
    """Fail the running check with `what` unless `condition` holds."""
    if not condition:
        raise CheckFailed(what)


def base_url_from_argv(usage: str) -> str:
    """The host's base URL, the script's only argument."""
    if len(sys.argv) != 2 or not sys.argv[1].startswith(("http://", "https://")):
        print(f"usage: {usage} http://HOST:PORT", file=sys.stderr)
        sys.exit(2)
    return sys.argv[1].rstrip("/")


def agent_url(base: str, agent: str) -> str:
    """Where a2a-host serves `agent`."""
    return f"{base}/agents/{agent}"


def emit(obj: dict[str, Any]) -> None:
    """Write one result line and flush, so a crash later loses nothing."""
    print(json.dumps(obj, sort_keys=True), flush=True)


def emit_versions(*packages: str) -> None:
    """Report the installed versions of `packages` (and Python's)."""
    versions = {"python": sys.version.split()[0]}
    for name in packages:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    emit({"info": versions})


class Wire:
    """Records the HTTP exchanges of an ``httpx.AsyncClient``.

    The record is a list of one-line summaries; response bodies are left
    alone so that streaming responses stay streaming.
    """

    def __init__(self) -> None:
        self.log: list[str] = []

    def client(self, **kwargs: Any) -> httpx.AsyncClient:
        """A new client whose traffic lands in this record."""
        return httpx.AsyncClient(
            event_hooks={"request": [self._request], "response": [self._response]},
            timeout=httpx.Timeout(CHECK_TIMEOUT_S),
            **kwargs,
        )

    async def _request(self, request: httpx.Request) -> None:
        version = request.headers.get("A2A-Version", "-")
        line = f"{request.method} {request.url} [A2A-Version: {version}]"
        body = request.content[:300].decode("utf-8", "replace") if request.content else ""
        self.log.append(f"{line} {body}".rstrip())

    async def _response(self, response: httpx.Response) -> None:
        kind = response.headers.get("content-type", "-")
        self.log.append(f"  -> {response.status_code} {kind}")


class Checks:
    """Runs checks one after another and reports each one."""

    def __init__(self) -> None:
        self.failed = 0

    async def run(self, name: str, check: Callable[[Wire], Awaitable[str | None]]) -> None:
        """Run `check` with a fresh traffic record; report pass or failure."""
        wire = Wire()
        try:
            detail = await asyncio.wait_for(check(wire), CHECK_TIMEOUT_S)
        except CheckFailed as err:
            self._fail(name, str(err), wire)
        except TimeoutError:
            self._fail(name, f"timed out after {CHECK_TIMEOUT_S:.0f} s", wire)
        except Exception as err:  # a client error is a check result, not a crash
            where = traceback.extract_tb(err.__traceback__)[-1]
            self._fail(
                name,
                f"{type(err).__name__}: {err} (at {where.filename}:{where.lineno})",
                wire,
            )
        else:
            result = {"check": name, "ok": True, "detail": detail or ""}
            if os.environ.get("INTEROP_TRACE"):
                result["http"] = wire.log
            emit(result)

    def _fail(self, name: str, detail: str, wire: Wire) -> None:
        self.failed += 1
        emit({"check": name, "ok": False, "detail": detail, "http": wire.log[-12:]})

    def exit(self) -> None:
        """Exit 1 if any check failed, else 0."""
        sys.exit(1 if self.failed else 0)
