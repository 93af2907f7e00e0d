"""The LLM processor loop.

An event arrives; the agent compiles main context, asks the model for one
function call, runs it, and commits the step (event, call, result, memory
edits) in one transaction. A heartbeat, asked for or forced by a failure,
chains another step at once; otherwise the agent yields until the next event.
"""

from __future__ import annotations

import functools
import itertools
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

from memgpt.agent import approval, events
from memgpt.agent.actions import ConversationActions
from memgpt.agent.context import MainContext, compile_main_context, message_tokens, to_chat
from memgpt.agent.summarizer import choose_cut, fit, summarize
from memgpt.embeddings.base import Embedder
from memgpt.errors import AgentNotFoundError, ContextTooSmallError, InputTooLargeError
from memgpt.llm.base import ChatMessage, LLMClient, LLMError, LLMReply
from memgpt.memory import recall_embedding, working
from memgpt.memory.files import FileToolError
from memgpt.memory.recall import SearchError
from memgpt.memory.working import MemoryEditError
from memgpt.schemas import (
    AgentState,
    Message,
    Response,
    StopReason,
    ToolCall,
    Usage,
    new_id,
    utcnow,
)
from memgpt.store import Store
from memgpt.store.base import RunStep, Source
from memgpt.tools.base import FunctionContext
from memgpt.tools.builtin import BUILTIN_FUNCTIONS, default_names
from memgpt.tools.files import attach_folder, detach_folder
from memgpt.tools.multi_agent import MessagingError, Messenger
from memgpt.tools.rules import Chain
from memgpt.tools.schema import ArgumentError, Function

OnStepDelta = Callable[[str, str, str], None]  # (message id, field, text)

MAX_CONSECUTIVE_FAILURES = 3
RESULT_FRACTION = 0.2  # the most of the window one function result may take
SUMMARY_FRACTION = 0.1  # the most of the window the recursive summary may take

_locks: dict[str, threading.RLock] = {}
_locks_guard = threading.Lock()


def reply_usage(reply: LLMReply) -> Usage:
    """One model call's tokens, as the backend reported them (0 where it did not)."""
    return Usage(
        prompt_tokens=reply.prompt_tokens or 0,
        completion_tokens=reply.completion_tokens or 0,
        cached_prompt_tokens=reply.cached_prompt_tokens or 0,
        step_count=1,
    )


def agent_lock(agent_id: str) -> threading.RLock:
    """One lock per agent in this process: an agent processes one event at a time."""
    with _locks_guard:
        return _locks.setdefault(agent_id, threading.RLock())


@dataclass
class RunContext:
    """The run an event is processed in: each committed step is recorded under `id`, and
    `cancelled()` is asked between steps (a step under way finishes and commits)."""

    id: str
    cancelled: Callable[[], bool]
    step_ids: dict[str, str] = field(default_factory=dict)  # message id -> its step's id


@dataclass
class StepOutcome:
    messages: list[Message]
    heartbeat: bool
    failed: bool
    follow_up: list[Message] = field(default_factory=list)
    stop: StopReason | None = None  # the chain stops after this step, for this reason


@dataclass
class Turn:
    """Where a step stands in its chain: what decides whether the chain stops after it."""

    chain: Chain
    record: RunStep | None  # the step's record, in a run
    failures: int  # failed steps just before this one
    last: bool  # the chain's bound allows no step after it


class Agent(ConversationActions, approval.Approvals):
    def __init__(
        self,
        state: AgentState,
        store: Store,
        llm: LLMClient,
        embedder: Embedder,
        functions: Mapping[str, Function] = BUILTIN_FUNCTIONS,
        messenger: Messenger | None = None,
    ):
        """`functions` holds every function the agent may be given; it has those its state
        names, else the defaults among them. `messenger` lets it message other agents."""
        self.state, self.store, self.llm, self.embedder = state, store, llm, embedder
        self.messenger = messenger
        self._available = functions
        self._offer()
        self._chats: dict[str, tuple[ChatMessage, int]] = {}  # message id -> chat form, tokens
        # Instructions, schemas and blocks repeat across steps: count each text once.
        self._count = functools.lru_cache(maxsize=256)(llm.count_tokens)
        self.queue: list[Message] = store.context_messages(state.id)
        self._head = store.last_seq(state.id)
        # Messages a crash (or an older memgpt) left unembedded are embedded now, behind.
        recall_embedding.WORKER.submit(store, embedder, state.id)

    def _offer(self) -> None:
        """Give the model the functions the state names (the defaults when it names none)."""
        names = self.state.tool_names or default_names(self._available)
        self.functions = {name: self._available[name] for name in names}
        self.schemas = [f.schema() for f in self.functions.values()]

    @property
    def id(self) -> str:
        return self.state.id

    @contextmanager
    def _exclusive(self) -> Iterator[None]:
        """This process's lock, then the store's cross-process one: an agent processes one
        event at a time even when several processes share its database (invariant 6)."""
        with agent_lock(self.id), self.store.agent_lock(self.id):
            yield

    @property
    def memory(self) -> dict[str, str]:
        """The working context blocks, label to text."""
        return {b.label: b.value for b in self.state.blocks}

    # events

    def send(
        self,
        text: str,
        on_step: Callable[[list[Message]], None] | None = None,
        on_delta: OnStepDelta | None = None,
    ) -> Response:
        """A user message: the agent processes it and replies through send_message."""
        return self.process(events.user_message(text), on_step, on_delta)

    def heartbeat(self, quiet_since: datetime | None = None) -> Response | None:
        """A timed heartbeat; None while the agent has paused them, or (`quiet_since`) when
        it had an event after that time: a scheduler in another process was first."""
        with self._exclusive():
            self._reload()
            paused = self.state.heartbeats_paused_until
            if paused and paused > utcnow():
                return None
            newest = self.store.messages_page(self.id, limit=1, newest_first=True)
            if quiet_since and newest and newest[0].created_at > quiet_since:
                return None
            if approval.pending(self.queue):
                return None  # nothing is processed until the user answers
            return self.process(events.heartbeat(events.TIMED_HEARTBEAT))

    def login(self) -> Response:
        return self.process(events.login())

    def process(
        self,
        event: Message | None,
        on_step: Callable[[list[Message]], None] | None = None,
        on_delta: OnStepDelta | None = None,
        *,
        max_steps: int | None = None,
        run: RunContext | None = None,
        answer: approval.Answer | None = None,
    ) -> Response:
        """Handle one event to the end of its chain of steps. `on_step` sees each step's
        messages once they are committed (the server streams them from there);
        `on_delta(message_id, field, text)` sees the model's reply as it is written, for
        backends that stream (it is not committed until the step is); `max_steps` bounds
        the chain below the agent's own bound; `run` records the steps and may cancel the
        chain between them. With no event, the agent answers the newest
        committed one again: a turn whose model call failed committed its event alone.
        `answer` answers the call waiting for approval: the chain goes on from it."""
        with self._exclusive():
            self._reload()
            waiting = approval.pending(self.queue)
            approval.check(answer, waiting, self.id)
            if event is not None:
                self._check_fits(event)
            pending, produced, failures, usage = [event] if event else [], [], 0, Usage()
            chain = Chain(self.state.tool_rules, self.functions)
            bound = min(self.state.max_chained_steps, max_steps or self.state.max_chained_steps)
            for step in itertools.count(1):  # the step at `bound` stops the chain
                if step > 1 and run is not None and run.cancelled():
                    stop = StopReason.CANCELLED
                    return Response(
                        messages=produced, stop_reason=stop, steps=step - 1, usage=usage
                    )
                if step > 1:  # blocks other agents share may have changed since the last step
                    self.state.blocks = self.store.agent_blocks(self.id)
                started = time.monotonic_ns()
                message_id = new_id("message")  # the deltas name the message they build
                reply = None
                if answer is None or step > 1:  # the user's answer is a step of its own
                    try:
                        context = self._fit_main_context(pending)
                        self._keep_statistics(pending, context.statistics)
                        reply = self._ask(context.messages, message_id, on_delta, chain.allowed())
                    except (LLMError, ContextTooSmallError) as exc:
                        ctx = FunctionContext(self.state, self.store, self.embedder)
                        self._commit(pending, ctx)
                        stop = (
                            StopReason.LLM_ERROR
                            if isinstance(exc, LLMError)
                            else StopReason.CONTEXT_TOO_SMALL
                        )
                        return Response(
                            messages=produced + pending,
                            stop_reason=stop,
                            steps=step,
                            error=str(exc),
                            usage=usage,
                        )
                spent = reply_usage(reply) if reply is not None else Usage()
                usage = usage.plus(spent)
                # Saved with the step's commit: the agent's totals count committed steps only.
                self.state.usage = self.state.usage.plus(spent)
                record = None
                if run is not None:
                    record = RunStep(
                        run_id=run.id,
                        agent_id=self.id,
                        model=self.state.llm.model,
                        prompt_tokens=spent.prompt_tokens,
                        completion_tokens=spent.completion_tokens,
                        cached_prompt_tokens=spent.cached_prompt_tokens,
                        duration_ns=started,  # made a duration when the step commits
                    )
                turn = Turn(chain, record, failures, last=step == bound)
                if reply is None:
                    outcome = self._run_answer(waiting, answer, turn)
                else:
                    outcome = self._run_step(pending, reply, message_id, turn)
                if record is not None:
                    run.step_ids.update((m.id, record.id) for m in outcome.messages)
                produced += outcome.messages
                if on_step is not None:
                    on_step(outcome.messages)
                failures = failures + 1 if outcome.failed else 0
                if outcome.stop is not None:
                    return Response(
                        messages=produced, stop_reason=outcome.stop, steps=step, usage=usage
                    )
                pending = outcome.follow_up

    # one step

    def _ask(
        self,
        messages: list[ChatMessage],
        message_id: str,
        on_delta: OnStepDelta | None,
        allowed: set[str],
    ) -> LLMReply:
        # Only the functions the tool rules allow now are offered: the model is told, and a
        # local backend's grammar cannot produce another.
        schemas = [s for s in self.schemas if s["name"] in allowed]
        # The agent's id keys the provider's prompt cache (OpenAI's prompt_cache_key).
        if on_delta is None or not getattr(self.llm, "streams", False):
            return self.llm.chat(messages, schemas, cache_key=self.id)
        return self.llm.chat(  # type: ignore[call-arg]
            messages,
            schemas,
            on_delta=functools.partial(on_delta, message_id),
            cache_key=self.id,
        )

    def _run_step(
        self,
        pending: list[Message],
        reply: LLMReply,
        message_id: str,
        turn: Turn,
    ) -> StepOutcome:
        """Run the model's call and commit the step: event, call, result and edits, atomically."""
        chain = turn.chain
        assistant = Message(
            id=message_id,
            role="assistant",
            text=(reply.content or "").strip(),
            tool_calls=reply.tool_calls,
        )
        ctx = self._context()
        awaiting = bool(reply.tool_calls) and self._needs_approval(reply.tool_calls[0], chain)
        try:
            with ctx.step:  # a memory edit's transaction, if the call began one, ends here
                if awaiting:  # the call waits, committed without a result
                    assistant.tool_calls[0] = approval.asked(assistant.tool_calls[0])
                    results, ok, heartbeat, follow_up = (
                        self._extra(reply.tool_calls),
                        True,
                        False,
                        [],
                    )
                else:
                    results, ok, heartbeat, follow_up = self._results(reply.tool_calls, ctx, chain)
                messages = [*pending, assistant, *results]
                stop = self._stop_after(turn, messages, ctx, ok, follow_up, awaiting)
                self._commit(messages, ctx, turn.record)
        except BaseException:
            self._reload()  # the function may have changed state that was not committed
            raise
        return StepOutcome(messages, heartbeat, not ok, follow_up, stop)

    def _run_answer(
        self,
        waiting: Message,
        answer: approval.Answer,
        turn: Turn,
    ) -> StepOutcome:
        """Commit the user's answer to the waiting call with the call's result: the
        function's own when approved, a failed one giving the reason when denied."""
        call, chain = waiting.tool_calls[0], turn.chain
        ctx = self._context()
        try:
            with ctx.step:
                if answer.approve:
                    ok, heartbeat, text = self._call_in_chain(call, ctx, chain)
                else:
                    ok, heartbeat, text = False, True, approval.denied(answer)
                follow_up = (
                    self._follow_up(ok, heartbeat, chain)
                    if answer.approve
                    else [events.heartbeat(events.CALL_DENIED)]
                )
                messages = [approval.response_event(waiting, answer), self._result(call, ok, text)]
                stop = self._stop_after(turn, messages, ctx, ok, follow_up, False)
                self._commit(messages, ctx, turn.record)
        except BaseException:
            self._reload()
            raise
        return StepOutcome(messages, heartbeat, not ok, follow_up, stop)

    def _context(self) -> FunctionContext:
        return FunctionContext(
            self.state, self.store, self.embedder, messenger=self.messenger, count=self._count
        )

    def _stop_after(
        self,
        turn: Turn,
        messages: list[Message],
        ctx: FunctionContext,
        ok: bool,
        follow_up: list[Message],
        awaiting: bool,
    ) -> StopReason | None:
        """Whether the chain stops after the step about to commit, and why: decided before
        the commit, so the step's record carries the reason its run stops with. A
        memory-pressure alert joins `follow_up` when the chain can go on to answer it, in
        place of a heartbeat that says only that the model asked to continue."""
        stop: StopReason | None
        if awaiting:
            stop = StopReason.REQUIRES_APPROVAL
        elif not ok and turn.failures + 1 >= MAX_CONSECUTIVE_FAILURES:
            stop = StopReason.INVALID_FUNCTION_CALL
        elif turn.last:
            # A warning now could not be answered: it waits for the next step.
            stop = StopReason.MAX_STEPS if follow_up else self._yielded(turn.chain)
        else:
            if alert := self._memory_pressure_alert(messages, len(ctx.passages)):
                # The alert wakes the model itself: a heartbeat saying only that it asked to
                # continue would be a second event for the next step to read.
                follow_up[:] = [e for e in follow_up if e.text != events.HEARTBEAT_REQUESTED]
                follow_up += alert
            stop = None if follow_up else self._yielded(turn.chain)
        if turn.record is not None:
            turn.record.duration_ns = time.monotonic_ns() - turn.record.duration_ns
            turn.record.stop_reason = stop
        return stop

    @staticmethod
    def _yielded(chain: Chain) -> StopReason:
        return StopReason.TOOL_RULE if chain.ended_by_rule() else StopReason.END_TURN

    def _results(
        self, calls: list[ToolCall], ctx: FunctionContext, chain: Chain
    ) -> tuple[list[Message], bool, bool, list[Message]]:
        """Run the step's call: (results, succeeded, heartbeat requested, follow-up events)."""
        if not calls:
            return [], False, False, [events.system_alert(events.NO_FUNCTION_CALLED)]
        ok, heartbeat, text = self._call_within_rules(calls[0], ctx, chain)
        results = [self._result(calls[0], ok, text), *self._extra(calls)]
        return results, ok, heartbeat, self._follow_up(ok, heartbeat, chain)

    def _extra(self, calls: list[ToolCall]) -> list[Message]:
        """Failed results for the calls after the first: one function runs per step."""
        text = "Only one function runs per step; call it again next step."
        return [self._result(c, False, text) for c in calls[1:]]

    @staticmethod
    def _follow_up(ok: bool, heartbeat: bool, chain: Chain) -> list[Message]:
        """The heartbeat that chains the next step, if one does."""
        if heartbeat or not ok:
            reason = events.HEARTBEAT_REQUESTED if ok else events.HEARTBEAT_AFTER_FAILURE
            return [events.heartbeat(reason)]
        if required := chain.uncalled_required():
            return [events.heartbeat(events.REQUIRED_BEFORE_EXIT.format(", ".join(required)))]
        return []

    def _call_within_rules(
        self, call: ToolCall, ctx: FunctionContext, chain: Chain
    ) -> tuple[bool, bool, str | None]:
        """Run the call if the tool rules allow it now; a refusal is a failed result."""
        allowed = chain.allowed()
        if call.name in self.functions and call.name not in allowed:
            names = ", ".join(sorted(allowed))
            return (
                False,
                True,
                f"The tool rules do not allow {call.name} now; call one of: {names}.",
            )
        return self._call_in_chain(call, ctx, chain)

    def _call_in_chain(
        self, call: ToolCall, ctx: FunctionContext, chain: Chain
    ) -> tuple[bool, bool, str | None]:
        """Run the call and record it in the chain: the rules then say what comes next."""
        ok, heartbeat, text = self._call(call, ctx)
        if ok:
            chain.record(call.name, text)
            heartbeat = chain.continues(call.name, heartbeat) and bool(chain.allowed())
        return ok, heartbeat, text

    def _call(self, call: ToolCall, ctx: FunctionContext) -> tuple[bool, bool, str | None]:
        """Run one function call; return (succeeded, heartbeat requested, result text)."""
        function = self.functions.get(call.name)
        if function is None:
            names = ", ".join(self.functions)
            return False, True, f"There is no function {call.name!r}; the functions are: {names}."
        try:
            _thoughts, heartbeat, kwargs = function.parse(call.arguments)
            result = function.fn(ctx, **kwargs)
        except (ArgumentError, MemoryEditError, SearchError, MessagingError, FileToolError) as exc:
            return False, True, str(exc)
        except Exception as exc:  # a faulty user function must not end the step
            return False, True, f"{call.name} raised {type(exc).__name__}: {exc}"
        return True, heartbeat, None if result is None else str(result)

    def _result(self, call: ToolCall, ok: bool, text: str | None) -> Message:
        if text is not None:
            limit = int(RESULT_FRACTION * self.state.llm.context_window)
            if self.llm.count_tokens(text) > limit:
                note = f"\n[Result truncated to about {limit} tokens; ask for less, e.g. page by page.]"
                text = fit(text, limit - self.llm.count_tokens(note), self.llm.count_tokens) + note
        return Message(
            role="tool", text=events.function_result(ok, text), tool_call_id=call.id, name=call.name
        )

    def _commit(
        self, messages: list[Message], ctx: FunctionContext, record: RunStep | None = None
    ) -> None:
        with self.store.transaction():
            self.store.append_messages(self.id, messages)
            if record is not None:  # recorded exactly when its messages are
                record.first_seq, record.last_seq = messages[0].seq, messages[-1].seq
                self.store.record_step(record)
            for edit in ctx.edits:
                self.store.apply_block_edit(edit)
            if ctx.passages:
                self.store.insert_passages(self.state.archival_id, ctx.passages)
            self.store.save_agent(self.state)
        # Committed: the messages are embedded behind the step, never in its time.
        recall_embedding.WORKER.submit(self.store, self.embedder, self.id)
        self.queue.extend(m for m in messages if m.in_context)
        self._head = messages[-1].seq

    # main context and memory pressure

    def _reload(self) -> None:
        """Catch up with writes made through another handle or process. The queue is read
        again only when recall storage or the summary changed, since it can be long."""
        fresh = self.store.get_agent(self.id)
        if fresh is None:
            raise AgentNotFoundError(f"Agent {self.state.name!r} was deleted.")
        head = self.store.last_seq(self.id)
        if head != self._head or fresh.summary != self.state.summary:
            self.queue = self.store.context_messages(self.id)
            self._head = head
        self.state = fresh

    def compile(self, pending: list[Message] = (), new_passages: int = 0) -> MainContext:
        """Main context as it is, or as it will be once `pending` messages and
        `new_passages` passages are stored."""
        chats = [self._chat(m) for m in [*self.queue, *pending]]
        return compile_main_context(
            self.state,
            [chat for chat, _ in chats],
            [tokens for _, tokens in chats],
            recall_count=self.store.count_messages(self.id) + len(pending),
            archival_count=self.store.count_passages(self.id) + new_passages,
            functions=self.schemas,
            count=self._count,
        )

    def _chat(self, message: Message) -> tuple[ChatMessage, int]:
        if message.id not in self._chats:
            chat = to_chat(message)
            self._chats[message.id] = chat, message_tokens(chat, self.llm.count_tokens)
        return self._chats[message.id]

    def _keep_statistics(self, pending: list[Message], statistics: str) -> None:
        """The newest event keeps the statistics it is shown with, and is stored with them
        in the step's commit: shown with them at every later step, the next prompt repeats
        this one up to the model's reply (invariant 7)."""
        if pending and pending[-1].role == "user":
            pending[-1].memory_statistics = statistics
            self._chats.pop(pending[-1].id, None)  # counted without them

    def _tokens(self, message: Message) -> int:
        return self._chat(message)[1]

    def _check_fits(self, event: Message) -> None:
        """Reject an event that could never fit, before it is stored or sent anywhere."""
        empty = self.compile()
        # Half the free room at most: the reply and its result need the other half.
        room = empty.budget - (empty.total - empty.sections["queue"])
        if self._tokens(event) > room // 2:
            raise InputTooLargeError(
                f"That input is about {self._tokens(event)} tokens but this agent's context window "
                f"leaves room for {room // 2}; split it, or load it as a document into archival memory."
            )

    def _fit_main_context(self, pending: list[Message]) -> MainContext:
        """Compile main context, evicting into the summary until it fits the window; when
        nothing more can be evicted, the least recently used open files are closed."""
        while True:
            context = self.compile(pending)
            if context.total <= context.budget:
                return context
            queue = [*self.queue, *pending]
            cut = choose_cut(queue, [self._tokens(m) for m in queue], limit=len(self.queue))
            if cut == 0 and self.state.open_files:
                # Open files are a view the agent can reopen; the conversation must go on.
                self.state.open_files.pop(0)
                continue
            if cut == 0:
                raise ContextTooSmallError(
                    f"Main context needs {context.total} tokens but the window allows "
                    f"{context.budget}, and nothing more can be evicted; use a model with a larger "
                    "context window or shorten the working context."
                )
            self.evict(cut)

    def evict(self, count: int) -> None:
        """Move the oldest `count` queue messages out of main context, into the summary."""
        evicted = self.queue[:count]
        max_tokens = max(64, int(SUMMARY_FRACTION * self.state.llm.context_window))
        summary = summarize(self.llm, self.state.summary, evicted, max_tokens)
        with self.store.transaction():
            self.store.evict_messages(self.id, [m.id for m in evicted])
            self.state.summary = summary
            self.state.memory_warning_issued = False
            self.store.save_agent(self.state)
        del self.queue[:count]
        for message in evicted:
            self._chats.pop(message.id, None)

    def _memory_pressure_alert(self, step: list[Message], new_passages: int) -> list[Message]:
        """A one-time warning past the configured fraction of the window, reset by eviction;
        measured with the step about to commit (its messages and passages)."""
        if self.state.memory_warning_issued:
            return []
        fraction = self.compile(step, new_passages).fraction
        if fraction < self.state.memory_warning_fraction:
            return []
        self.state.memory_warning_issued = True
        return [events.system_alert(events.MEMORY_PRESSURE.format(percent=round(100 * fraction)))]

    # user actions on memory

    def edit_block(self, label: str, value: str) -> None:
        """Set a block's text as the user; recorded in the block's history. It takes the
        block's row lock, not the agent's: the agent need not finish its turn first."""
        block = next((b for b in self.store.agent_blocks(self.id) if b.label == label), None)
        if block is None:
            working.set_value(self.state, label, value)  # raises, naming the agent's blocks
            return
        working.set_shared(self.store, block.id, value, self.id)
        self.state.blocks = self.store.agent_blocks(self.id)

    def attach_source(self, source: str) -> Source:
        """Let archival_memory_search cover a loaded document source (by name or id), and
        give the agent the file functions over its files."""
        with self._exclusive(), self.store.transaction():
            self._reload()
            attached = attach_folder(self.store, self.state, source, list(self.functions))
            self.store.save_agent(self.state)
        self._offer()
        return attached

    def detach_source(self, source: str) -> Source:
        """Close the source's open files; with the last source go the file functions."""
        with self._exclusive(), self.store.transaction():
            self._reload()
            detached = detach_folder(self.store, self.state, source)
            self.store.save_agent(self.state)
        self._offer()
        return detached

    def sources(self) -> list[Source]:
        """The document sources attached to this agent."""
        return self.store.attached_sources(self.id)
