"""Interop checks with the official A2A Python SDK 1.x (`a2a-sdk`).

Usage: python sdk1_client.py http://HOST:PORT

Runs every check once over JSON-RPC and once over HTTP+JSON, speaking A2A
1.0 through the SDK's ClientFactory, against the example agents served by
a2a-host. Output: see interop_common.py.
"""

from __future__ import annotations

import asyncio

from a2a.client import A2ACardResolver, Client, ClientConfig, ClientFactory
from a2a.helpers.proto_helpers import get_artifact_text, get_message_text, new_text_message
from a2a.types.a2a_pb2 import (
    CancelTaskRequest,
    GetTaskRequest,
    Role,
    SendMessageConfiguration,
    SendMessageRequest,
    StreamResponse,
    Task,
    TaskState,
)

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

BINDINGS = {"jsonrpc": "JSONRPC", "rest": "HTTP+JSON"}


def state_name(state: int) -> str:
    return TaskState.Name(state)


def user_message(text: str, task: Task | None = None) -> SendMessageRequest:
    """A user text message; a follow-up on `task` when given."""
    message = new_text_message(text, role=Role.ROLE_USER)
    if task is not None:
        message.task_id = task.id
        message.context_id = task.context_id
    return SendMessageRequest(message=message)


def status_text(task: Task) -> str:
    return get_message_text(task.status.message) if task.status.HasField("message") else ""


class Sdk1:
    """The checks, for one base URL and one protocol binding."""

    def __init__(self, base: str, binding: str) -> None:
        self.base = base
        self.binding = binding

    async def client(self, wire: Wire, agent: str, *, streaming: bool) -> Client:
        """Discover `agent`'s card and build a client for our binding."""
        config = ClientConfig(
            streaming=streaming,
            supported_protocol_bindings=[self.binding],
            httpx_client=wire.client(),
        )
        return await ClientFactory(config).create_from_url(agent_url(self.base, agent))

    async def send(self, client: Client, request: SendMessageRequest) -> Task:
        """A blocking send; the one answer must be a task."""
        answers = [event async for event in client.send_message(request)]
        expect(len(answers) == 1, f"a blocking send gave {len(answers)} answers")
        expect(answers[0].HasField("task"), f"expected a task, got {answers[0]}")
        return answers[0].task

    async def card(self, wire: Wire) -> str:
        url = agent_url(self.base, ECHO)
        async with wire.client() as http:
            card = await A2ACardResolver(http, url).get_agent_card()
        expect(card.name == ECHO, f"card name {card.name!r}")
        expect(card.capabilities.streaming, "card does not declare streaming")
        expect(any(s.id == "echo" for s in card.skills), "card lacks the echo skill")
        ours = [
            i
            for i in card.supported_interfaces
            if i.protocol_binding == self.binding and i.protocol_version.startswith("1.")
        ]
        expect(ours, f"no {self.binding} 1.x interface in {list(card.supported_interfaces)}")
        expect(ours[0].url == url, f"{self.binding} interface url {ours[0].url!r}, want {url!r}")
        return f"{card.name} {card.version}, {len(card.supported_interfaces)} interfaces"

    async def send_blocking(self, wire: Wire) -> str:
        text = f"hello from a2a-sdk 1.x over {self.binding}"
        async with await self.client(wire, ECHO, streaming=False) as client:
            task = await self.send(client, user_message(text))
        expect(task.id and task.context_id, "task lacks id or contextId")
        expect(
            task.status.state == TaskState.TASK_STATE_COMPLETED,
            f"state {state_name(task.status.state)}",
        )
        expect(task.status.message.role == Role.ROLE_AGENT, "status message is not the agent's")
        expect(status_text(task) == text, f"echo answered {status_text(task)!r}, want {text!r}")
        return f"task {task.id} completed"

    async def get(self, wire: Wire) -> str:
        text = "remember me"
        async with await self.client(wire, ECHO, streaming=False) as client:
            sent = await self.send(client, user_message(text))
            got = await client.get_task(GetTaskRequest(id=sent.id, history_length=10))
        expect(got.id == sent.id, f"get returned task {got.id!r}")
        expect(got.context_id == sent.context_id, "contextId changed")
        expect(
            got.status.state == TaskState.TASK_STATE_COMPLETED,
            f"state {state_name(got.status.state)}",
        )
        expect(status_text(got) == text, f"status message {status_text(got)!r}")
        users = [m for m in got.history if m.role == Role.ROLE_USER]
        expect(
            [get_message_text(m) for m in users] == [text],
            f"history user messages {[get_message_text(m) for m in users]}",
        )
        return f"task {got.id}, {len(got.history)} history messages"

    async def stream(self, wire: Wire) -> str:
        text = "interop"
        async with await self.client(wire, STREAMING, streaming=True) as client:
            events: list[StreamResponse] = [
                event async for event in client.send_message(user_message(text))
            ]
        expect(events, "the stream was empty")
        expect(events[0].HasField("task"), f"first event is not a task: {events[0]}")
        task_id = events[0].task.id
        kinds = [event.WhichOneof("payload") for event in events]
        statuses = [e.status_update for e in events if e.HasField("status_update")]
        chunks = [e.artifact_update for e in events if e.HasField("artifact_update")]
        expect(
            all(u.task_id == task_id for u in statuses + chunks),
            "an update names another task",
        )
        expect(
            any(s.status.state == TaskState.TASK_STATE_WORKING for s in statuses),
            f"no working status update in {kinds}",
        )
        expect(len(chunks) > 1, f"{len(chunks)} artifact chunks, want several")
        expect(len({c.artifact.artifact_id for c in chunks}) == 1, "chunks of several artifacts")
        expect(not chunks[0].append, "the first chunk has append set")
        expect(all(c.append for c in chunks[1:]), "a later chunk lacks append")
        expect(
            [c.last_chunk for c in chunks] == [False] * (len(chunks) - 1) + [True],
            "lastChunk is not set on exactly the last chunk",
        )
        answer = "".join(get_artifact_text(c.artifact, "") for c in chunks)
        expect(
            answer == STREAM_ANSWER.format(text),
            f"chunks joined give {answer!r}, want {STREAM_ANSWER.format(text)!r}",
        )
        last = events[-1]
        final = last.status_update.status if last.HasField("status_update") else last.task.status
        expect(
            final.state == TaskState.TASK_STATE_COMPLETED,
            f"last event {kinds[-1]} in state {state_name(final.state)}",
        )
        return f"{len(events)} events: {len(statuses)} status, {len(chunks)} artifact chunks"

    async def cancel(self, wire: Wire) -> str:
        async with await self.client(wire, COUNTDOWN, streaming=False) as client:
            request = user_message("30")
            request.configuration.CopyFrom(SendMessageConfiguration(return_immediately=True))
            started = await self.send(client, request)
            expect(
                started.status.state
                in (TaskState.TASK_STATE_SUBMITTED, TaskState.TASK_STATE_WORKING),
                f"returnImmediately gave state {state_name(started.status.state)}",
            )
            state = started.status.state
            for _ in range(100):
                if state == TaskState.TASK_STATE_WORKING:
                    break
                await asyncio.sleep(0.05)
                state = (await client.get_task(GetTaskRequest(id=started.id))).status.state
            expect(state == TaskState.TASK_STATE_WORKING, f"countdown stuck in {state_name(state)}")
            canceled = await client.cancel_task(CancelTaskRequest(id=started.id))
            expect(canceled.id == started.id, f"cancel returned task {canceled.id!r}")
            expect(
                canceled.status.state == TaskState.TASK_STATE_CANCELED,
                f"cancel returned state {state_name(canceled.status.state)}",
            )
            await asyncio.sleep(0.5)  # more than two ticks of the countdown
            later = await client.get_task(GetTaskRequest(id=started.id))
        expect(
            later.status.state == TaskState.TASK_STATE_CANCELED,
            f"after cancel the task is {state_name(later.status.state)}",
        )
        return f"task {started.id} canceled while working"

    async def multi_turn(self, wire: Wire) -> str:
        async with await self.client(wire, MULTI_TURN, streaming=False) as client:
            first = await self.send(client, user_message("hello"))
            expect(
                first.status.state == TaskState.TASK_STATE_INPUT_REQUIRED,
                f"first turn: {state_name(first.status.state)} {status_text(first)!r}",
            )
            expect(status_text(first) == "What is your name?", f"asked {status_text(first)!r}")
            second = await self.send(client, user_message("Ada", first))
            expect(second.id == first.id, "the follow-up started another task")
            expect(
                second.status.state == TaskState.TASK_STATE_INPUT_REQUIRED,
                f"second turn: {state_name(second.status.state)} {status_text(second)!r}",
            )
            expect(
                status_text(second) == "Which city are you in?", f"asked {status_text(second)!r}"
            )
            third = await self.send(client, user_message("Paris", first))
            expect(third.id == first.id, "the last turn started another task")
            expect(
                third.status.state == TaskState.TASK_STATE_COMPLETED,
                f"third turn: {state_name(third.status.state)} {status_text(third)!r}",
            )
            expect(
                status_text(third) == "Nice to meet you, Ada from Paris!",
                f"answered {status_text(third)!r}",
            )
            got = await client.get_task(GetTaskRequest(id=first.id, history_length=50))
        said = [get_message_text(m) for m in got.history if m.role == Role.ROLE_USER]
        expect(said == ["hello", "Ada", "Paris"], f"history holds user messages {said}")
        return f"task {first.id}: input-required twice, then completed"


async def main() -> None:
    base = base_url_from_argv("sdk1_client.py")
    emit_versions("a2a-sdk", "httpx", "protobuf")
    checks = Checks()
    for prefix, binding in BINDINGS.items():
        sdk = Sdk1(base, binding)
        await checks.run(f"{prefix}.card", sdk.card)
        await checks.run(f"{prefix}.send", sdk.send_blocking)
        await checks.run(f"{prefix}.get", sdk.get)
        await checks.run(f"{prefix}.stream", sdk.stream)
        await checks.run(f"{prefix}.cancel", sdk.cancel)
        await checks.run(f"{prefix}.multi_turn", sdk.multi_turn)
    checks.exit()


if __name__ == "__main__":
    asyncio.run(main())
