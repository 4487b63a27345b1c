"""Interop checks with the client of `a2akit` (which speaks A2A 0.3).

Usage: python a2akit_client.py http://HOST:PORT

a2akit's A2AClient picks its transport from the card (preferredTransport,
JSON-RPC on a2a-host) and the checks use it that way, against the example
agents served by a2a-host. Output: see interop_common.py.

Two habits of the client shape the checks:

- `send(blocking=False)` leaves `blocking` out of the request, and 0.3
  servers such as a2a-sdk's treat a missing flag as blocking; so the cancel
  check starts the countdown with `stream()`, the client's own way to get a
  task id before the task ends, and cancels it from there.
- Its HTTP+JSON transport is not exercised: forced with
  `protocol="http+json"` it posts to the card's main (JSON-RPC) url even
  against a2akit's own servers, which serve REST under `/v1`.
"""

from __future__ import annotations

import asyncio

from a2akit.client import A2AClient, ClientResult, StreamEvent

from interop_common import (
    COUNTDOWN,
    ECHO,
    MULTI_TURN,
    STREAM_ANSWER,
    STREAMING,
    Checks,
    Wire,
    agent_url,
    base_url_from_argv,
    emit_versions,
    expect,
)

#: Check-name prefix -> the `protocol` argument of A2AClient (None: let the
#: client choose from the card, which gives JSON-RPC).
PROTOCOLS = {"jsonrpc": None}


def status_text(result: ClientResult) -> str:
    """The text of the task's status message (not of its artifacts)."""
    task = result.raw_task
    if task is None or task.status.message is None:
        return ""
    return "".join(getattr(p.root, "text", "") for p in task.status.message.parts)


class Kit:
    """The checks, for one base URL and one protocol choice."""

    def __init__(self, base: str, protocol: str | None) -> None:
        self.base = base
        self.protocol = protocol
        self.expected = protocol or "jsonrpc"

    def client(self, wire: Wire, agent: str) -> A2AClient:
        return A2AClient(
            agent_url(self.base, agent), protocol=self.protocol, httpx_client=wire.client()
        )

    async def card(self, wire: Wire) -> str:
        url = agent_url(self.base, ECHO)
        async with self.client(wire, ECHO) as client:
            card = client.agent_card
            expect(client.protocol == self.expected, f"client picked {client.protocol!r}")
        expect(card.name == ECHO, f"card name {card.name!r}")
        expect(card.url == url, f"card url {card.url!r}, want {url!r}")
        expect(card.capabilities and card.capabilities.streaming, "no streaming capability")
        expect(any(s.id == "echo" for s in card.skills), "card lacks the echo skill")
        return f"{card.name} {card.version}, protocolVersion {card.protocol_version}"

    async def send(self, wire: Wire) -> str:
        text = f"hello from a2akit over {self.expected}"
        async with self.client(wire, ECHO) as client:
            result = await client.send(text)
        expect(result.task_id and result.context_id, "task lacks id or contextId")
        expect(result.completed, f"state {result.state}")
        expect(result.raw_task and result.raw_task.status.message, "no status message")
        expect(result.raw_task.status.message.role.value == "agent", "not the agent's message")
        expect(result.text == text, f"echo answered {result.text!r}, want {text!r}")
        return f"task {result.task_id} completed"

    async def get(self, wire: Wire) -> str:
        text = "remember me"
        async with self.client(wire, ECHO) as client:
            sent = await client.send(text)
            got = await client.get_task(sent.task_id, history_length=10)
        expect(got.task_id == sent.task_id, f"get returned task {got.task_id!r}")
        expect(got.context_id == sent.context_id, "contextId changed")
        expect(got.completed, f"state {got.state}")
        expect(got.text == text, f"text {got.text!r}")
        history = got.raw_task.history or []
        said = [
            "".join(getattr(p.root, "text", "") for p in m.parts)
            for m in history
            if m.role.value == "user"
        ]
        expect(said == [text], f"history user messages {said}")
        return f"task {got.task_id}, {len(history)} history messages"

    async def stream(self, wire: Wire) -> str:
        text = "interop"
        async with self.client(wire, STREAMING) as client:
            events: list[StreamEvent] = [e async for e in client.stream(text)]
        expect(events, "the stream was empty")
        expect(events[0].kind == "task", f"first event is a {events[0].kind}")
        task_id = events[0].task_id
        statuses = [e for e in events if e.kind == "status"]
        chunks = [e for e in events if e.kind == "artifact"]
        expect(all(e.task_id == task_id for e in events), "an event names another task")
        expect(any(s.state == "working" for s in statuses), "no working status update")
        expect(len(chunks) > 1, f"{len(chunks)} artifact chunks, want several")
        expect(len({c.artifact_id for c in chunks}) == 1, "chunks of several artifacts")
        expect(not chunks[0].raw.append, "the first chunk has append set")
        expect(all(c.raw.append for c in chunks[1:]), "a later chunk lacks append")
        expect(
            [c.is_final for c in chunks] == [False] * (len(chunks) - 1) + [True],
            "lastChunk is not set on exactly the last chunk",
        )
        joined = "".join(c.text or "" for c in chunks)
        expect(
            joined == STREAM_ANSWER.format(text),
            f"chunks joined give {joined!r}, want {STREAM_ANSWER.format(text)!r}",
        )
        last = events[-1]
        expect(
            last.kind == "status" and last.state == "completed",
            f"last event: {last.kind} {last.state}",
        )
        expect(last.is_final, "the completed status update lacks final: true")
        expect(not any(s.is_final for s in statuses[:-1]), "final: true before the end")
        return f"{len(events)} events: {len(statuses)} status, {len(chunks)} artifact chunks"

    async def cancel(self, wire: Wire) -> str:
        async with self.client(wire, COUNTDOWN) as client:
            seen: list[StreamEvent] = []
            canceled: ClientResult | None = None
            async for event in client.stream("30"):
                seen.append(event)
                if canceled is None and event.kind == "status" and event.state == "working":
                    canceled = await client.cancel(event.task_id)
            expect(canceled is not None, f"never saw the countdown working: {seen}")
            task_id = seen[0].task_id
            expect(canceled.task_id == task_id, f"cancel returned task {canceled.task_id!r}")
            expect(canceled.canceled, f"cancel returned state {canceled.state}")
            last = seen[-1]
            expect(
                last.kind == "status" and last.state == "canceled" and last.is_final,
                f"the stream ended with {last.kind} {last.state} final={last.is_final}",
            )
            later = await client.get_task(task_id)
        expect(later.canceled, f"after cancel the task is {later.state}")
        return f"task {task_id} canceled while working"

    async def multi_turn(self, wire: Wire) -> str:
        async with self.client(wire, MULTI_TURN) as client:
            first = await client.send("hello")
            expect(first.input_required, f"first turn: {first.state} {status_text(first)!r}")
            expect(status_text(first) == "What is your name?", f"asked {status_text(first)!r}")
            second = await client.send("Ada", task_id=first.task_id)
            expect(second.task_id == first.task_id, "the follow-up started another task")
            expect(second.input_required, f"second turn: {second.state} {status_text(second)!r}")
            expect(
                status_text(second) == "Which city are you in?",
                f"asked {status_text(second)!r}",
            )
            third = await client.send("Paris", task_id=first.task_id)
            expect(third.task_id == first.task_id, "the last turn started another task")
            expect(third.completed, f"third turn: {third.state} {status_text(third)!r}")
            expect(
                status_text(third) == "Nice to meet you, Ada from Paris!",
                f"answered {status_text(third)!r}",
            )
            got = await client.get_task(first.task_id, history_length=50)
        said = [
            "".join(getattr(p.root, "text", "") for p in m.parts)
            for m in got.raw_task.history or []
            if m.role.value == "user"
        ]
        expect(said == ["hello", "Ada", "Paris"], f"history holds user messages {said}")
        return f"task {first.task_id}: input-required twice, then completed"


async def main() -> None:
    base = base_url_from_argv("a2akit_client.py")
    emit_versions("a2akit", "a2a-sdk", "httpx")
    checks = Checks()
    for prefix, protocol in PROTOCOLS.items():
        kit = Kit(base, protocol)
        await checks.run(f"{prefix}.card", kit.card)
        await checks.run(f"{prefix}.send", kit.send)
        await checks.run(f"{prefix}.get", kit.get)
        await checks.run(f"{prefix}.stream", kit.stream)
        await checks.run(f"{prefix}.cancel", kit.cancel)
        await checks.run(f"{prefix}.multi_turn", kit.multi_turn)
    checks.exit()


if __name__ == "__main__":
    asyncio.run(main())
