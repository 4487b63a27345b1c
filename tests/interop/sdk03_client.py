"""Interop checks with the 0.3 line of the official A2A Python SDK
(`a2a-sdk==0.3.*`).

Usage: python sdk03_client.py http://HOST:PORT

Runs every check once over JSON-RPC and once over HTTP+JSON (the 0.3 REST
paths under /v1), speaking A2A 0.3 through the SDK's ClientFactory, against
the example agents served by a2a-host. Output: see interop_common.py.
"""

from __future__ import annotations

import asyncio

from a2a.client import A2ACardResolver, Client, ClientConfig, ClientFactory
from a2a.client.helpers import create_text_message_object
from a2a.types import (
    Message,
    MessageSendConfiguration,
    Role,
    Task,
    TaskArtifactUpdateEvent,
    TaskIdParams,
    TaskQueryParams,
    TaskState,
    TaskStatusUpdateEvent,
    TransportProtocol,
)
from a2a.utils.artifact import get_artifact_text
from a2a.utils.message import get_message_text

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

BINDINGS = {"jsonrpc": TransportProtocol.jsonrpc, "rest": TransportProtocol.http_json}


def user_message(text: str, task: Task | None = None) -> Message:
    """A user text message; a follow-up on `task` when given."""
    message = create_text_message_object(role=Role.user, content=text)
    if task is not None:
        message.task_id = task.id
        message.context_id = task.context_id
    return message


def status_text(task: Task) -> str:
    return get_message_text(task.status.message) if task.status.message else ""


class Sdk03:
    """The checks, for one base URL and one transport."""

    def __init__(self, base: str, transport: TransportProtocol) -> None:
        self.base = base
        self.transport = transport

    async def client(self, wire: Wire, agent: str, *, streaming: bool) -> Client:
        """Discover `agent`'s card and build a client for our transport."""
        config = ClientConfig(
            streaming=streaming,
            supported_transports=[self.transport],
            httpx_client=wire.client(),
        )
        return await ClientFactory.connect(agent_url(self.base, agent), client_config=config)

    async def send(
        self,
        client: Client,
        message: Message,
        configuration: MessageSendConfiguration | None = None,
    ) -> Task:
        """A send without streaming; the one answer must be a task."""
        answers = [a async for a in client.send_message(message, configuration=configuration)]
        expect(len(answers) == 1, f"a send gave {len(answers)} answers")
        expect(isinstance(answers[0], tuple), f"expected a task, got {answers[0]!r}")
        task, update = answers[0]
        expect(update is None, f"a send gave an update event {update!r}")
        return task

    async def card(self, wire: Wire) -> str:
        url = agent_url(self.base, ECHO)
        async with wire.client() as http:
            card = await A2ACardResolver(http, url).get_agent_card()
        expect(card.name == ECHO, f"card name {card.name!r}")
        expect(
            card.protocol_version.startswith("0.3"), f"protocolVersion {card.protocol_version!r}"
        )
        expect(card.url == url, f"card url {card.url!r}, want {url!r}")
        expect(card.capabilities.streaming, "card does not declare streaming")
        expect(any(s.id == "echo" for s in card.skills), "card lacks the echo skill")
        offered = {card.preferred_transport: card.url}
        offered.update({i.transport: i.url for i in card.additional_interfaces or []})
        expect(self.transport in offered, f"card offers only {sorted(offered)}")
        expect(
            offered[self.transport] == url,
            f"{self.transport.value} url {offered[self.transport]!r}, want {url!r}",
        )
        return f"{card.name} {card.version}, protocolVersion {card.protocol_version}"

    async def send_blocking(self, wire: Wire) -> str:
        text = f"hello from a2a-sdk 0.3 over {self.transport.value}"
        async with await self.client(wire, ECHO, streaming=False) as client:
            task = await self.send(client, user_message(text))
        expect(task.id and task.context_id, "task lacks id or contextId")
        expect(task.status.state == TaskState.completed, f"state {task.status.state.value}")
        expect(task.status.message.role == Role.agent, "status message is not the agent's")
        expect(status_text(task) == text, f"echo answered {status_text(task)!r}, want {text!r}")
        return f"task {task.id} completed"

    async def get(self, wire: Wire) -> str:
        text = "remember me"
        async with await self.client(wire, ECHO, streaming=False) as client:
            sent = await self.send(client, user_message(text))
            got = await client.get_task(TaskQueryParams(id=sent.id, history_length=10))
        expect(got.id == sent.id, f"get returned task {got.id!r}")
        expect(got.context_id == sent.context_id, "contextId changed")
        expect(got.status.state == TaskState.completed, f"state {got.status.state.value}")
        expect(status_text(got) == text, f"status message {status_text(got)!r}")
        said = [get_message_text(m) for m in got.history or [] if m.role == Role.user]
        expect(said == [text], f"history user messages {said}")
        return f"task {got.id}, {len(got.history or [])} history messages"

    async def stream(self, wire: Wire) -> str:
        text = "interop"
        answers = []
        texts = []  # each chunk's text when it arrived: the client appends later
        # chunks to the first chunk's artifact object in place.
        async with await self.client(wire, STREAMING, streaming=True) as client:
            async for answer in client.send_message(user_message(text)):
                answers.append(answer)
                if isinstance(answer, tuple) and isinstance(answer[1], TaskArtifactUpdateEvent):
                    texts.append(get_artifact_text(answer[1].artifact, ""))
        expect(answers, "the stream was empty")
        expect(
            all(isinstance(a, tuple) for a in answers), "the stream carried a message, not a task"
        )
        first_task, first_update = answers[0]
        expect(first_update is None, f"first event is not a task: {first_update!r}")
        updates = [update for _, update in answers[1:]]
        statuses = [u for u in updates if isinstance(u, TaskStatusUpdateEvent)]
        chunks = [u for u in updates if isinstance(u, TaskArtifactUpdateEvent)]
        expect(
            all(u.task_id == first_task.id for u in statuses + chunks),
            "an update names another task",
        )
        expect(
            any(s.status.state == TaskState.working for s in statuses), "no working status update"
        )
        expect(len(chunks) > 1, f"{len(chunks)} artifact chunks, want several")
        expect(len({c.artifact.artifact_id for c in chunks}) == 1, "chunks of several artifacts")
        expect(not chunks[0].append, "the first chunk has append set")
        expect(all(c.append for c in chunks[1:]), "a later chunk lacks append")
        expect(
            [bool(c.last_chunk) for c in chunks] == [False] * (len(chunks) - 1) + [True],
            "lastChunk is not set on exactly the last chunk",
        )
        joined = "".join(texts)
        expect(
            joined == STREAM_ANSWER.format(text),
            f"chunks joined give {joined!r}, want {STREAM_ANSWER.format(text)!r}",
        )
        last = updates[-1] if updates else None
        expect(
            isinstance(last, TaskStatusUpdateEvent) and last.status.state == TaskState.completed,
            f"last event is {last!r}",
        )
        expect(last.final, "the completed status update lacks final: true")
        expect(all(not s.final for s in statuses[:-1]), "final: true before the end of the stream")
        # The task the client assembled from the events.
        task, _ = answers[-1]
        expect(task.status.state == TaskState.completed, f"client task {task.status.state.value}")
        built = "".join(get_artifact_text(a, "") for a in task.artifacts or [])
        expect(
            built == STREAM_ANSWER.format(text),
            f"client assembled artifact {built!r}, want {STREAM_ANSWER.format(text)!r}",
        )
        return f"{len(answers)} events: {len(statuses)} status, {len(chunks)} artifact chunks"

    async def cancel(self, wire: Wire) -> str:
        async with await self.client(wire, COUNTDOWN, streaming=False) as client:
            started = await self.send(
                client, user_message("30"), MessageSendConfiguration(blocking=False)
            )
            expect(
                started.status.state in (TaskState.submitted, TaskState.working),
                f"blocking: false gave state {started.status.state.value}",
            )
            state = started.status.state
            for _ in range(100):
                if state == TaskState.working:
                    break
                await asyncio.sleep(0.05)
                state = (await client.get_task(TaskQueryParams(id=started.id))).status.state
            expect(state == TaskState.working, f"countdown stuck in {state.value}")
            canceled = await client.cancel_task(TaskIdParams(id=started.id))
            expect(canceled.id == started.id, f"cancel returned task {canceled.id!r}")
            expect(
                canceled.status.state == TaskState.canceled,
                f"cancel returned state {canceled.status.state.value}",
            )
            await asyncio.sleep(0.5)  # more than two ticks of the countdown
            later = await client.get_task(TaskQueryParams(id=started.id))
        expect(
            later.status.state == TaskState.canceled,
            f"after cancel the task is {later.status.state.value}",
        )
        return f"task {started.id} canceled while working"

    async def multi_turn(self, wire: Wire) -> str:
        async with await self.client(wire, MULTI_TURN, streaming=False) as client:
            first = await self.send(client, user_message("hello"))
            expect(
                first.status.state == TaskState.input_required,
                f"first turn: {first.status.state.value} {status_text(first)!r}",
            )
            expect(status_text(first) == "What is your name?", f"asked {status_text(first)!r}")
            second = await self.send(client, user_message("Ada", first))
            expect(second.id == first.id, "the follow-up started another task")
            expect(
                second.status.state == TaskState.input_required,
                f"second turn: {second.status.state.value} {status_text(second)!r}",
            )
            expect(
                status_text(second) == "Which city are you in?", f"asked {status_text(second)!r}"
            )
            third = await self.send(client, user_message("Paris", first))
            expect(third.id == first.id, "the last turn started another task")
            expect(
                third.status.state == TaskState.completed,
                f"third turn: {third.status.state.value} {status_text(third)!r}",
            )
            expect(
                status_text(third) == "Nice to meet you, Ada from Paris!",
                f"answered {status_text(third)!r}",
            )
            got = await client.get_task(TaskQueryParams(id=first.id, history_length=50))
        said = [get_message_text(m) for m in got.history or [] if m.role == Role.user]
        expect(said == ["hello", "Ada", "Paris"], f"history holds user messages {said}")
        return f"task {first.id}: input-required twice, then completed"


async def main() -> None:
    base = base_url_from_argv("sdk03_client.py")
    emit_versions("a2a-sdk", "httpx", "pydantic")
    checks = Checks()
    for prefix, transport in BINDINGS.items():
        sdk = Sdk03(base, transport)
        await checks.run(f"{prefix}.card", sdk.card)
        await checks.run(f"{prefix}.send", sdk.send_blocking)
        await checks.run(f"{prefix}.get", sdk.get)
        await checks.run(f"{prefix}.stream", sdk.stream)
        await checks.run(f"{prefix}.cancel", sdk.cancel)
        await checks.run(f"{prefix}.multi_turn", sdk.multi_turn)
    checks.exit()


if __name__ == "__main__":
    asyncio.run(main())
