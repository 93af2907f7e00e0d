"""Server accounts behave the same on both backends (the server runs on either)."""

from __future__ import annotations

from memgpt.schemas import AgentState, Block
from memgpt.store.accounts import AgentOwner, UserTool, accounts_for


def test_accounts_keys_owners_tools_and_idempotency(store):
    accounts = accounts_for(store)
    org = accounts.create_organization("acme")
    user = accounts.create_user(org.id, "ana")
    key = accounts.create_api_key(user.id, "laptop")
    assert accounts.authenticate(key).id == user.id
    assert accounts.authenticate(key[:-1] + "x") is None
    accounts.ensure_organization(org.id, "ignored")
    assert accounts.ensure_user(user.id, org.id, "ignored").name == "ana"

    state = AgentState(name="a", system="s", blocks=[Block(label="human")])
    store.create_agent(state)
    accounts.set_agent_owner(
        AgentOwner(agent_id=state.id, organization_id=org.id, user_id=user.id, name="x")
    )
    accounts.set_agent_owner(
        AgentOwner(agent_id=state.id, organization_id=org.id, user_id=user.id, name="y")
    )
    assert [o.name for o in accounts.owned_agents(org.id)] == ["y"]

    tool = UserTool(
        organization_id=org.id,
        name="t",
        source_code="def t(): ...",
        json_schema={"name": "t"},
        tags=["a"],
    )
    accounts.save_tool(tool)
    assert accounts.get_tool(org.id, "t") == tool
    assert [t.id for t in accounts.list_tools(org.id)] == [tool.id]
    assert accounts.delete_tool(org.id, tool.id) and accounts.get_tool(org.id, tool.id) is None

    accounts.save_idempotent_response(state.id, "k", "first")
    accounts.save_idempotent_response(state.id, "k", "second")
    assert accounts.idempotent_response(state.id, "k") == "second"
    store.delete_agent(state.id)
    assert accounts.agent_owner(state.id) is None
