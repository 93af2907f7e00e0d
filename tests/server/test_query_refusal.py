"""What is asked for is done or refused (invariant 10): a query parameter a route does
not take, a Letta filter memgpt lacks say, is a 400 naming it on every route, so a
listing never quietly returns everything. The test walks the app's routes: a new route
is covered the day it is added."""

from __future__ import annotations

import re

from fastapi.routing import APIRoute

from memgpt.server.app import ROUTERS


def api_routes() -> list[APIRoute]:
    """Every route the app serves but the catch-all's 501."""
    return [r for router in ROUTERS for r in router.routes if isinstance(r, APIRoute)]


def test_every_route_refuses_a_query_parameter_it_does_not_take(server, http_a):
    routes = api_routes()
    assert len(routes) > 80
    for route in routes:
        path = re.sub(r"\{[^}]+\}", "x", route.path)
        for method in route.methods:
            got = http_a.request(method, path, params={"memgpt_nope": "1"})
            assert got.status_code == 400, (method, route.path, got.status_code, got.text)
            assert "`memgpt_nope`" in got.json()["detail"], (method, route.path)


def test_a_letta_filter_memgpt_lacks_is_named(http_a):
    got = http_a.get("/v1/runs/", params={"conversation_id": "c", "limit": 5, "tags": "x"})
    assert got.status_code == 400
    assert got.json()["detail"].startswith("memgpt does not implement `conversation_id`, `tags`")
    # The filters a route takes still work, and so does the 501 of a route memgpt lacks.
    assert http_a.get("/v1/runs/", params={"limit": 5, "order": "asc"}).status_code == 200
    assert http_a.get("/v1/identities/", params={"limit": 5}).status_code == 501
