"""Agents made through the Python API or the CLI belong to the local organization, the one
`memgpt server --no-auth` serves key-less requests as, on both backends; no other
organization sees them, and an import still being written stays hidden from all."""

from __future__ import annotations

import uuid

import httpx

from memgpt.embeddings.hash import HashEmbedder
from memgpt.llm.scripted import ScriptedLLM
from memgpt.schemas import EmbeddingConfig


def made_by_the_python_api(server, name: str):
    return server.app.state.service.client.create_agent(
        name,
        llm=ScriptedLLM([]),
        embedding=EmbeddingConfig(provider="hash"),
        embedder=HashEmbedder(),
    )


def test_python_api_agents_are_the_local_organizations(server, http_a):
    name = f"cli-{uuid.uuid4().hex[:6]}"
    agent = made_by_the_python_api(server, name)
    importing = made_by_the_python_api(server, f"{name}-importing")
    store = server.app.state.service.store
    store.begin_import(importing.id)
    try:
        with httpx.Client(base_url=server.url) as local:  # no key: the local user
            listed = {a["id"]: a["name"] for a in local.get("/v1/agents/").json()}
            assert listed.get(agent.id) == name and importing.id not in listed
            assert local.get(f"/v1/agents/{agent.id}").json()["name"] == name
            assert local.get(f"/v1/agents/{importing.id}").status_code == 404
            renamed = local.patch(f"/v1/agents/{agent.id}", json={"name": f"{name}-2"})
            assert renamed.raise_for_status().json()["name"] == f"{name}-2"
            assert http_a.get(f"/v1/agents/{agent.id}").status_code == 404
            assert agent.id not in [a["id"] for a in http_a.get("/v1/agents/").json()]
            assert local.delete(f"/v1/agents/{agent.id}").status_code == 200
    finally:
        store.drop_import(importing.id)
