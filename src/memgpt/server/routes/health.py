from __future__ import annotations

from importlib.metadata import version

from fastapi import APIRouter

router = APIRouter(tags=["health"])


@router.get("/v1/health/")
@router.get("/v1/health", include_in_schema=False)
def health() -> dict[str, str]:
    return {"status": "ok", "version": version("memgpt")}
