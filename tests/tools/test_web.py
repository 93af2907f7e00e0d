"""fetch_webpage and web_search against real HTTP servers on loopback: private addresses
refused unless allowed (by the address a name resolves to, and on every redirect), pages
and PDFs read as text, caps on size, and search through a fake SearXNG."""

from __future__ import annotations

import io
import json
import socket

import pytest
from fpdf import FPDF

from memgpt.tools import web
from memgpt.tools.web import WebError, WebSettings
from tests.fakes.web_server import Page, web_server

OPEN = WebSettings(fetch=True, private_addresses=True)
CLOSED = WebSettings(fetch=True)
HTML = b"<html><head><title>Bees</title></head><body><h1>Bees</h1><p>Ana keeps <b>bees</b>.</p></body></html>"


def _pdf(text: str) -> bytes:
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=12)
    pdf.cell(text=text)
    out = io.BytesIO()
    pdf.output(out)
    return out.getvalue()


def test_loopback_is_refused_unless_the_operator_allows_it():
    with web_server({"/": Page(HTML)}) as site:
        for url in (site.url, site.url.replace("127.0.0.1", "localhost")):
            with pytest.raises(WebError, match="loopback, private or link-local"):
                web.fetch(url + "/", CLOSED)
        assert site.requests == []  # refused before connecting
        text = web.fetch(site.url + "/", OPEN)
    assert "# Bees" in text and "Ana keeps **bees**." in text


def test_the_address_a_name_resolves_to_is_checked(monkeypatch):
    real = socket.getaddrinfo

    def resolve(host, *args, **kwargs):
        if host == "intranet.example":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.1.2.3", 80))]
        if host == "mapped.example":
            return [(socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("::ffff:127.0.0.1", 80, 0, 0))]
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    with pytest.raises(WebError, match="resolves to 10.1.2.3"):
        web.fetch("http://intranet.example/", CLOSED)
    with pytest.raises(WebError, match="resolves to ::ffff:127.0.0.1"):
        web.fetch("http://mapped.example/", CLOSED)
    with pytest.raises(WebError, match="resolves to 169.254.169.254"):
        web.fetch("http://169.254.169.254/latest/meta-data/", CLOSED)


def test_a_redirect_to_a_private_address_is_refused(monkeypatch):
    # 127.0.0.1 stands in for a public host here; its redirect points at 127.0.0.2.
    monkeypatch.setattr(web, "_public", lambda address: address == "127.0.0.1")
    with (
        web_server(
            {"/": Page(b"", status=302, headers={"Location": "http://127.0.0.2:9/x"})}
        ) as site,
        pytest.raises(WebError, match="resolves to 127.0.0.2"),
    ):
        web.fetch(site.url + "/", CLOSED)
    with web_server(
        {"/": Page(b"", status=302, headers={"Location": "/page"}), "/page": Page(HTML)}
    ) as site:
        assert "Ana keeps" in web.fetch(site.url + "/", CLOSED)
        assert [path for path, _headers in site.requests] == ["/", "/page"]


def test_a_pdf_is_read_as_text():
    with web_server({"/paper.pdf": Page(_pdf("MemGPT pages memory"), "application/pdf")}) as site:
        assert "MemGPT pages memory" in web.fetch(site.url + "/paper.pdf", OPEN)


def test_what_cannot_be_read_is_refused_with_a_reason(monkeypatch):
    monkeypatch.setattr(web, "MAX_PAGE_BYTES", 1000)
    pages = {
        "/big": Page(b"<p>" + b"x" * 5000 + b"</p>"),
        "/image": Page(b"\x89PNG", "image/png"),
        "/gone": Page(b"no", "text/plain", 404),
    }
    with web_server(pages) as site:
        with pytest.raises(WebError, match="larger than"):
            web.fetch(site.url + "/big", OPEN)
        with pytest.raises(WebError, match="is image/png, not a web page"):
            web.fetch(site.url + "/image", OPEN)
        with pytest.raises(WebError, match="HTTP 404"):
            web.fetch(site.url + "/gone", OPEN)
    with pytest.raises(WebError, match="Only http and https"):
        web.fetch("file:///etc/passwd", OPEN)


def test_web_search_asks_the_configured_searxng():
    answer = {
        "results": [
            {"title": "Beekeeping", "url": "https://bees.example/", "content": "How to keep bees."},
            {"title": "Hives", "url": "https://hives.example/", "content": "Hive types."},
        ]
    }
    page = Page(json.dumps(answer).encode(), "application/json")
    with web_server({"/search": page}) as searx:
        found = web.search("keeping bees", WebSettings(searxng_url=searx.url + "/"))
        path, _headers = searx.requests[0]
    assert path == "/search?q=keeping+bees&format=json"
    assert found.splitlines()[:3] == [
        "1. Beekeeping",
        "   https://bees.example/",
        "   How to keep bees.",
    ]
    assert "2. Hives" in found


def test_the_functions_are_offered_only_when_configured():
    assert web.functions(WebSettings()) == {}
    assert set(web.functions(WebSettings(fetch=True))) == {"fetch_webpage"}
    both = web.functions(WebSettings(fetch=True, searxng_url="http://127.0.0.1:9"))
    assert set(both) == {"fetch_webpage", "web_search"}
    assert set(both["fetch_webpage"].schema()["parameters"]["properties"]) >= {"url"}


def test_web_search_asks_brave_with_the_key_from_its_variable(monkeypatch):
    answer = {
        "web": {
            "results": [
                {"title": "Bees", "url": "https://b.example/", "description": "All about bees."}
            ]
        }
    }
    page = Page(json.dumps(answer).encode(), "application/json")
    with web_server({"/res/v1/web/search": page}) as brave:
        settings = WebSettings(
            brave_key_env="TEST_BRAVE_KEY", brave_url=brave.url + "/res/v1/web/search"
        )
        assert web.functions(settings) == {}  # the variable holds no key yet
        monkeypatch.setenv("TEST_BRAVE_KEY", "brave-key")
        assert set(web.functions(settings)) == {"web_search"}
        found = web.search("bees", settings)
        path, headers = brave.requests[0]
        monkeypatch.delenv("TEST_BRAVE_KEY")
        with pytest.raises(WebError, match="no longer set"):
            web.search("bees", settings)
    assert path == "/res/v1/web/search?q=bees"
    assert headers["X-Subscription-Token"] == "brave-key"
    assert found == "1. Bees\n   https://b.example/\n   All about bees."
