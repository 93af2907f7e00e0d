"""The web UI in a real browser: an agent is created, chatted with, watched editing its
memory, edited by hand, searched, and given a document, as a person would do it."""

from __future__ import annotations

import json
import re

import httpx
import pytest

from tests.ui.conftest import DESKTOP, PHONE, report

try:
    from playwright.sync_api import expect
except ImportError:  # every test needs `browser`, whose fixture says what to install
    expect = None

POLICY = "scripted/tests.server.policies:agent"


def signed_in(browser, key: str, viewport: dict, **options):
    """A browser context whose page has `key` stored, as if entered once before."""
    context = browser.new_context(viewport=viewport, **options)
    context.add_init_script(f"localStorage.setItem('memgpt.apiKey', {json.dumps(key)})")
    return context


@pytest.fixture
def page(browser, ui_server, fresh_key):
    context = signed_in(browser, fresh_key, DESKTOP)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    page.goto(ui_server.url)
    yield page
    context.close()
    assert not errors, f"the page reported errors: {errors}"


def send(page, text: str) -> None:
    page.get_by_label("Message").fill(text)
    page.get_by_label("Message").press("Enter")
    expect(page.get_by_label("Message")).to_be_enabled(timeout=15_000)


def create_agent(page, name: str) -> None:
    page.get_by_text("New agent").click()
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Model").fill(POLICY)
    page.get_by_label("Persona").fill("I am a patient test agent.")
    page.get_by_role("button", name="Create agent").click()
    expect(page.locator("#agent-title")).to_contain_text(name)


def test_chat_memory_and_documents(page, ui_server, shoot, tmp_path):
    expect(page.locator("#status")).to_have_text("Create an agent to begin.")
    shoot(page, "desktop-1-start")
    create_agent(page, "ui-sam")
    expect(page.get_by_role("button", name=re.compile("^ui-sam"))).to_have_attribute(
        "aria-current", "true"
    )

    # A reply streams in, with the inner monologue collapsed beside it.
    send(page, "hello there")
    expect(page.locator(".msg.agent .bubble").last).to_have_text("echo: hello there")
    expect(page.locator(".msg.thought summary").last).to_have_text("Inner monologue")
    queue = page.locator("#context-legend li", has_text="FIFO queue").locator("data")
    expect(queue).not_to_have_text("0")

    # A memory edit: the function call and its result inline, the block updated.
    send(page, "remember likes green tea")
    call = page.locator(".msg.call", has_text="core_memory_append").last
    expect(call.locator(".badge.edit")).to_have_text("memory edit")
    call.locator("summary").click()
    expect(call.locator(".returned")).to_contain_text("result")
    expect(page.get_by_label("human", exact=True)).to_have_value(re.compile("likes green tea"))
    expect(page.locator(".msg.agent .bubble").last).to_have_text(re.compile("^done:"))
    human = page.locator('form.block[data-label="human"]')
    human.get_by_text("Edit history").click()
    agent_edit = human.locator(".edit").first
    expect(agent_edit.locator(".badge")).to_have_text("agent")
    expect(agent_edit.locator("ins")).to_contain_text("likes green tea")
    shoot(page, "desktop-2-chat-and-main-context")

    # The user edits a block: the counter follows, the save lands in the history.
    persona = page.get_by_label("persona", exact=True)
    persona.fill("I am a patient test agent who loves maps.")
    expect(page.locator("#block-persona-count")).to_have_text(re.compile(r"^41 / \d+ characters$"))
    page.locator('form.block[data-label="persona"]').get_by_role("button", name="Save").click()
    expect(page.locator("#status")).to_have_text("Saved persona.")
    persona_block = page.locator('form.block[data-label="persona"]')
    persona_block.get_by_text("Edit history").click()
    user_edit = persona_block.locator(".edit").first
    expect(user_edit.locator(".badge")).to_have_text("user")
    expect(user_edit.locator("ins")).to_contain_text("who loves maps")

    # Archival memory: the agent saves a passage; hybrid search finds it with scores.
    send(page, "archive The launch code is 1234")
    expect(page.locator(".msg.call", has_text="archival_memory_insert")).to_have_count(1)
    page.get_by_role("tab", name="External context").click()
    page.get_by_label("Query", exact=True).fill("launch code")
    page.get_by_role("button", name="Search archival").click()
    hit = page.locator("#archival-results .hit").first
    expect(hit).to_contain_text("The launch code is 1234")
    expect(hit.locator(".scores")).to_contain_text(re.compile(r"score \d\.\d{4}"))

    # Recall storage by text.
    page.get_by_label("Text", exact=True).fill("green tea")
    page.get_by_role("button", name="Search recall").click()
    expect(page.locator("#recall-results .hit").first).to_contain_text("green tea")

    # A document: a source, an upload with progress, attached, then found by search.
    page.get_by_label("New source").fill("handbook")
    page.get_by_role("button", name="Create source").click()
    expect(page.get_by_role("button", name="Attach handbook")).to_be_visible()
    doc = tmp_path / "handbook.txt"
    doc.write_text("The office plants are watered every Tuesday by the night porter.\n")
    page.get_by_label("File", exact=True).set_input_files(str(doc))
    page.get_by_role("button", name="Upload").click()
    expect(page.locator("#upload-status")).to_have_text(
        re.compile("handbook.txt: loaded, [1-9]"), timeout=15_000
    )
    page.get_by_role("button", name="Attach handbook").click()
    expect(page.get_by_role("button", name="Detach handbook")).to_be_visible()
    page.get_by_label("Source", exact=True).select_option(label="handbook")
    page.get_by_label("Query", exact=True).fill("who waters the plants")
    page.get_by_role("button", name="Search archival").click()
    hit = page.locator("#archival-results .hit").first
    expect(hit).to_contain_text("night porter")
    expect(hit.locator(".badge")).to_have_text("handbook · handbook.txt")
    shoot(page, "desktop-3-external-context")


def test_memory_pressure_and_summary_are_marked(page, ui_server, fresh_key, shoot):
    """A small window fills up: the warning shows as a system event, evicted messages
    are dimmed below a summary mark, and the summary appears in main context."""
    agent = httpx.post(
        f"{ui_server.url}/v1/agents/",
        json={"name": "ui-small", "model": POLICY, "context_window_limit": 6000},
        headers={"Authorization": f"Bearer {fresh_key}"},
    ).json()
    page.goto(f"{ui_server.url}/#{agent['id']}")
    expect(page.locator("#agent-title")).to_contain_text("ui-small")
    for i in range(40):
        send(page, f"message number {i} " + "with some padding words " * 20)
        if page.locator(".evicted-mark").count():
            break
    expect(page.locator(".msg.event.system_alert").first).to_contain_text("Memory pressure")
    expect(page.locator(".evicted-mark")).to_be_visible()
    expect(page.locator("#summary")).to_contain_text("Summary of earlier conversation")
    page.locator(".evicted-mark").scroll_into_view_if_needed()
    shoot(page, "desktop-4-memory-pressure")


def test_input_stays_busy_until_the_reply_is_drawn(page, ui_server, fresh_key):
    """The input is freed only after a reply's last refresh (main context, the evicted
    mark): a message sent sooner raced that redraw. The refresh after the transcript's
    reload is held here, and the input must stay busy until it is let through."""
    agent = httpx.post(
        f"{ui_server.url}/v1/agents/",
        json={"name": "ui-busy", "model": POLICY},
        headers={"Authorization": f"Bearer {fresh_key}"},
    ).json()
    page.goto(f"{ui_server.url}/#{agent['id']}")
    expect(page.locator("#agent-title")).to_contain_text("ui-busy")
    page.wait_for_load_state("networkidle")
    reloaded, held = [], []
    page.on("request", lambda r: "/messages?" in r.url and reloaded.append(r.url))
    page.route(
        "**/v1/agents/*/context",
        lambda route: held.append(route) if reloaded else route.continue_(),
    )
    page.get_by_label("Message").fill("hello")
    page.get_by_label("Message").press("Enter")
    expect(page.locator(".msg.agent .bubble").last).to_have_text("echo: hello")
    for _ in range(100):
        if held:
            break
        page.wait_for_timeout(100)
    assert held, "the reply's last refresh never came"
    expect(page.get_by_label("Message")).to_be_disabled()
    reloaded.clear()  # later refreshes go through
    for route in held:
        route.continue_()
    expect(page.get_by_label("Message")).to_be_enabled()


def test_phone_layout_switches_panes(browser, ui_server, fresh_key, shoot):
    context = signed_in(browser, fresh_key, PHONE, is_mobile=True, has_touch=True)
    page = context.new_page()
    page.goto(ui_server.url)
    page.get_by_role("button", name="Agents", exact=True).click()
    create_agent(page, "ui-phone")
    expect(page.locator("#chat-pane")).to_be_visible()
    expect(page.locator("#memory-pane")).to_be_hidden()
    send(page, "remember walks to work")
    expect(page.locator(".msg.agent").last).to_contain_text("done:")
    shoot(page, "phone-1-chat")
    page.get_by_role("button", name="Memory", exact=True).click()
    expect(page.locator("#context-bar .seg").first).to_be_visible()
    expect(page.locator("#chat-pane")).to_be_hidden()
    shoot(page, "phone-2-main-context")
    page.get_by_role("button", name="Agents", exact=True).click()
    expect(page.locator("#memory-pane")).to_be_hidden()
    shoot(page, "phone-3-agents")
    context.close()


def test_api_key_is_asked_for_and_kept(browser, ui_server):
    """With a key stored, the page acts as that key's user (another organization here)."""
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    page.goto(ui_server.url)
    page.get_by_role("button", name="API key").click()
    page.get_by_label("Key", exact=True).fill("not-a-key")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#status")).to_contain_text("The API key is not valid")
    expect(page.get_by_role("dialog")).to_be_visible()
    page.get_by_label("Key", exact=True).fill(ui_server.key_a)
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#status")).to_have_text("Create an agent to begin.")
    page.reload()
    expect(page.locator("#status")).to_have_text("Create an agent to begin.")
    assert page.evaluate("localStorage.getItem('memgpt.apiKey')") == ui_server.key_a
    context.close()


def test_page_load_time(browser, ui_server):
    """Measured, not judged: the figure goes in the run's summary."""
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    timings = []
    for _ in range(5):
        page.goto(ui_server.url)
        expect(page.locator("#agent-list li").first).to_be_visible()
        timings.append(
            page.evaluate(
                "(() => { const n = performance.getEntriesByType('navigation')[0];"
                " return [n.domContentLoadedEventEnd, n.loadEventEnd]; })()"
            )
        )
    context.close()
    dcl = sorted(t[0] for t in timings)[len(timings) // 2]
    load = sorted(t[1] for t in timings)[len(timings) // 2]
    report["load_ms"] = f"DOMContentLoaded {dcl:.0f} ms, load {load:.0f} ms (median of 5)"


def test_a_model_failure_and_each_turns_usage_are_shown(page, ui_server, fresh_key, shoot):
    create_agent(page, "usage-ui")
    send(page, "hello")
    expect(page.locator(".msg.event.usage").last).to_contain_text("1 step(s)")
    send(page, "fail the provider")
    expect(page.locator(".msg.event.error").last).to_have_text(
        "The model failed on purpose (the provider): try again later."
    )
    shoot(page, "model-failure")


def test_a_shared_block_shows_the_agents_sharing_it(page, ui_server, fresh_key, shoot):
    """A block two agents share says so, and its history names the agent that edited it."""
    with httpx.Client(
        base_url=ui_server.url, headers={"Authorization": f"Bearer {fresh_key}"}
    ) as http:
        block = http.post("/v1/blocks/", json={"label": "team", "value": "Team: red"}).json()
        agents = [
            http.post(
                "/v1/agents/", json={"name": name, "model": POLICY, "block_ids": [block["id"]]}
            ).json()
            for name in ("ui-lead", "ui-mate")
        ]
        http.post(f"/v1/agents/{agents[1]['id']}/messages", json={"input": "note team Lead: Ana"})
    page.goto(f"{ui_server.url}/#{agents[0]['id']}")
    team = page.locator('form.block[data-label="team"]')
    expect(team.locator(".shared")).to_have_text("Shared with ui-mate")
    expect(team.locator("textarea")).to_have_value("Team: red\nLead: Ana")
    team.locator("summary").click()
    expect(team.locator(".edit .who").first).to_contain_text("agent (ui-mate)")
    shoot(page, "desktop-5-shared-block")


def test_runs_are_listed_with_how_they_ended(page, ui_server, fresh_key, shoot):
    create_agent(page, "runs-ui")
    send(page, "hello")
    page.get_by_role("tab", name="External context").click()
    runs = page.locator("#run-list li")
    expect(runs).to_have_count(1)
    expect(runs.first).to_contain_text("completed")
    expect(runs.first).to_contain_text("end turn")
    shoot(page, "runs")


def test_an_agents_mcp_tools_are_listed(page, ui_server, fresh_key):
    """A server registered with its tools already listed (no process started here): the
    tool attached through the API shows under MCP tools with its server's name."""
    from memgpt.schemas import utcnow
    from memgpt.store.mcp_servers import McpServer

    org = ui_server.app.state.accounts.authenticate(fresh_key).organization_id
    tool = {"name": "shout", "description": "Capitals.", "inputSchema": {"type": "object"}}
    server = McpServer(
        organization_id=org, name="fake", kind="stdio", command="x", tools=[tool], tools_at=utcnow()
    )
    ui_server.app.state.service.mcp_servers.save(server)
    auth = {"Authorization": f"Bearer {fresh_key}"}
    agent = httpx.post(f"{ui_server.url}/v1/agents/", json={"name": "ui-mcp"}, headers=auth).json()
    tools = httpx.get(f"{ui_server.url}/v1/mcp-servers/{server.id}/tools", headers=auth).json()
    attach = f"{ui_server.url}/v1/agents/{agent['id']}/tools/attach/{tools[0]['id']}"
    assert httpx.patch(attach, headers=auth).status_code == 200
    page.goto(f"{ui_server.url}/#{agent['id']}")
    expect(page.locator("#mcp-tool-list")).to_contain_text("shout")
    expect(page.locator("#mcp-tool-list")).to_contain_text("fake")


def test_a_call_waiting_for_approval_is_approved_or_denied(page, ui_server, fresh_key, shoot):
    """The waiting call shows Approve and Deny (with a reason); the answer streams on."""
    rule = {"type": "requires_approval", "tool_name": "core_memory_append"}
    body = {"name": "ui-careful", "model": POLICY, "tool_rules": [rule]}
    auth = {"Authorization": f"Bearer {fresh_key}"}
    agent = httpx.post(f"{ui_server.url}/v1/agents/", json=body, headers=auth).json()
    page.goto(f"{ui_server.url}/#{agent['id']}")
    send(page, "remember figs")
    waiting = page.locator("form.approval")
    expect(waiting).to_have_count(1)
    expect(page.locator(".msg.event.approval").last).to_contain_text("waits for your approval")
    shoot(page, "approval-waiting")
    waiting.get_by_label("Reason").fill("figs are private")
    waiting.get_by_role("button", name="Deny").click()
    expect(page.locator(".msg.event.approval").first).to_contain_text(
        "denied the call: figs are private"
    )
    expect(page.locator("form.approval")).to_have_count(0)
    expect(page.locator(".returned.error").last).to_contain_text("User reason: figs are private")
    send(page, "remember plums")
    page.locator("form.approval").get_by_role("button", name="Approve").click()
    expect(page.locator(".msg.event.approval").last).to_contain_text("approved the call")
    expect(page.locator("form.approval")).to_have_count(0)
