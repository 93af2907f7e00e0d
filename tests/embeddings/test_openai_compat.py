"""OpenAIEmbedder through the real `openai` SDK against a local /v1/embeddings fake."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np
import pytest

from memgpt.embeddings import create_embedder
from memgpt.embeddings.base import EmbeddingError
from memgpt.embeddings.hash import HashEmbedder
from memgpt.embeddings.openai_compat import OpenAIEmbedder
from memgpt.schemas import EmbeddingConfig

DIM = 8
KNOWN_MODEL = "fake-embed"


class FakeEmbeddings:
    """Answers like /v1/embeddings: hash vectors scaled by 3 (so normalization is tested)."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.auth: list[str | None] = []
        self.required_key: str | None = None
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def answer(self, body: dict[str, Any], auth: str | None) -> tuple[int, dict[str, Any]]:
        self.requests.append(body)
        self.auth.append(auth)
        if self.required_key and auth != f"Bearer {self.required_key}":
            return 401, {
                "error": {"message": "Incorrect API key provided", "type": "invalid_request_error"}
            }
        if body["model"] != KNOWN_MODEL:
            return 404, {
                "error": {
                    "message": f"model {body['model']} not found",
                    "type": "invalid_request_error",
                }
            }
        if any(not text for text in body["input"]):
            return 400, {"error": {"message": "input cannot be an empty string"}}
        vectors = HashEmbedder(DIM).embed(body["input"]) * 3.0
        data = [
            {"object": "embedding", "index": i, "embedding": v.tolist()}
            for i, v in enumerate(vectors)
        ]
        data.reverse()  # servers may answer out of order; `index` is what counts
        return 200, {
            "object": "list",
            "data": data,
            "model": body["model"],
            "usage": {"prompt_tokens": 1, "total_tokens": 1},
        }

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                assert self.path == "/v1/embeddings"
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                status, payload = fake.answer(body, self.headers.get("Authorization"))
                raw = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.send_header("x-should-retry", "false")
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args: object) -> None:
                pass

        return Handler


@pytest.fixture
def server() -> Iterator[FakeEmbeddings]:
    fake = FakeEmbeddings()
    yield fake
    fake.httpd.shutdown()
    fake.httpd.server_close()


def config(server: FakeEmbeddings, **overrides: Any) -> EmbeddingConfig:
    fields = {"provider": "openai", "model": KNOWN_MODEL, "base_url": server.base_url, "dim": DIM}
    return EmbeddingConfig(**(fields | overrides))


def test_batches_orders_and_normalizes(
    server: FakeEmbeddings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_KEY", "sk-test")
    server.required_key = "sk-test"
    texts = [f"note number {i} about topic {i % 3}" for i in range(7)] + [""]
    embedder = OpenAIEmbedder(config(server, api_key_env="FAKE_KEY"), batch_size=3, max_retries=0)
    vectors = embedder.embed(texts)
    assert [len(r["input"]) for r in server.requests] == [3, 3, 2]
    assert all(r["encoding_format"] == "float" for r in server.requests)
    assert set(server.auth) == {"Bearer sk-test"}
    assert vectors.shape == (8, DIM) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(vectors[:7], HashEmbedder(DIM).embed(texts[:7]), atol=1e-6)


def test_create_embedder_dispatches_openai(server: FakeEmbeddings) -> None:
    embedder = create_embedder(config(server))
    assert isinstance(embedder, OpenAIEmbedder)
    assert embedder.embed(["hi"]).shape == (1, DIM)


def test_missing_key_is_one_clear_sentence(
    server: FakeEmbeddings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MISSING_KEY", raising=False)
    with pytest.raises(EmbeddingError, match=r"^Set the environment variable MISSING_KEY"):
        OpenAIEmbedder(config(server, api_key_env="MISSING_KEY"))


def test_openai_itself_needs_a_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(EmbeddingError, match="OPENAI_API_KEY"):
        OpenAIEmbedder(EmbeddingConfig(provider="openai", model="text-embedding-3-small"))


def test_rejected_key(server: FakeEmbeddings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_KEY", "wrong")
    server.required_key = "right"
    embedder = OpenAIEmbedder(config(server, api_key_env="FAKE_KEY"), max_retries=0)
    with pytest.raises(EmbeddingError, match="rejected the API key in FAKE_KEY"):
        embedder.embed(["x"])


def test_unknown_model(server: FakeEmbeddings) -> None:
    embedder = OpenAIEmbedder(config(server, model="no-such-model"), max_retries=0)
    with pytest.raises(EmbeddingError, match="has no model 'no-such-model'"):
        embedder.embed(["x"])


def test_unreachable_endpoint(server: FakeEmbeddings) -> None:
    url = server.base_url
    server.httpd.shutdown()
    server.httpd.server_close()
    embedder = OpenAIEmbedder(config(server, base_url=url), max_retries=0, timeout_s=5)
    with pytest.raises(
        EmbeddingError, match=r"^Could not reach the embedding endpoint http://127\.0\.0\.1"
    ):
        embedder.embed(["x"])


def test_dimension_mismatch(server: FakeEmbeddings) -> None:
    embedder = OpenAIEmbedder(config(server, dim=16), max_retries=0)
    with pytest.raises(EmbeddingError, match="set it to 8"):
        embedder.embed(["x"])
