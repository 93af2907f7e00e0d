"""Letta's model routes: the models agents can use, and the providers serving them."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from starlette.concurrency import run_in_threadpool

from memgpt.server import wire
from memgpt.server.deps import Caller, Service
from memgpt.server.models import PROVIDER_TYPES, embedding_models, llm_models

router = APIRouter(prefix="/v1", tags=["models"])

Filter = Annotated[list[str] | None, Query()]


@router.get("/models/")
async def list_models(
    p: Caller,
    service: Service,
    provider_name: str | None = None,
    provider_type: str | None = None,
    provider_category: Filter = None,
) -> list[dict[str, Any]]:
    # Asking providers is network I/O with a timeout: off the event loop.
    models = await run_in_threadpool(_models, service)
    return [
        m
        for m in models
        if provider_name in (None, m["provider_name"])
        and provider_type in (None, m["provider_type"])
        and (not provider_category or m["provider_category"] in provider_category)
    ]


def _models(service) -> list[dict[str, Any]]:
    registry = service.models.providers
    return llm_models(registry, {n: service.catalog.listed(n)[0] for n in registry.names()})


@router.get("/models/embedding")
@router.get("/models/embedding/", include_in_schema=False)
def list_embedding_models(p: Caller, service: Service) -> list[dict[str, Any]]:
    return embedding_models(service.models.default_embedding)


@router.get("/providers/")
async def list_providers(
    p: Caller, service: Service, name: str | None = None, provider_type: str | None = None
) -> list[dict[str, Any]]:
    return await run_in_threadpool(_providers, service, name, provider_type)


def _providers(service, name: str | None, provider_type: str | None) -> list[dict[str, Any]]:
    registry = service.models.providers
    out = []
    for provider in (registry.get(n) for n in registry.names()):
        kind = PROVIDER_TYPES[provider.kind]
        if name not in (None, provider.name) or provider_type not in (None, kind):
            continue
        _listed, error = service.catalog.listed(provider.name)
        out.append(
            {
                "id": wire.derived_id("provider", provider.name),
                "name": provider.name,
                "provider_type": kind,
                "provider_category": "base",
                "base_url": provider.base_url,
                "api_key": None,  # keys stay on the server
                "models": list(provider.models),
                "context_window": provider.context_window,
                "error": error,
            }
        )
    return out
