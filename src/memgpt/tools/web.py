"""The built-in web functions, offered to agents only when the operator turns them on
(`[web]` in config.toml): `fetch_webpage` reads a page as text, `web_search` asks a
SearXNG instance or the Brave Search API.

fetch_webpage takes URLs from the model, and the model takes them from whoever talks to
it, so by default it reaches only public addresses: every address a name resolves to is
checked (not the name), on every redirect, and the request goes to the address checked,
so a name that resolves again to another address in between cannot move it. The page is
read up to a size cap within a time cap and turned into text by the document loaders.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from memgpt.ingest.loaders import LoadError, LoadOptions, load_bytes
from memgpt.tools.base import FunctionContext
from memgpt.tools.schema import Function, function_from_callable

if TYPE_CHECKING:
    import httpx

    from memgpt.config import Settings

MAX_PAGE_BYTES = 5 * 2**20
TIMEOUT_S = 15.0  # the whole fetch, redirects and reading included
MAX_REDIRECTS = 5
SEARCH_RESULTS = 8
BRAVE_URL = "https://api.search.brave.com/res/v1/web/search"
USER_AGENT = "memgpt (+https://github.com/cpacker/MemGPT)"
# The type a response declares -> the loader's file type for it.
LOADABLE = {
    "text/html": ".html",
    "application/xhtml+xml": ".html",
    "application/pdf": ".pdf",
    "text/plain": ".txt",
    "text/markdown": ".md",
    "application/json": ".json",
    "text/csv": ".csv",
}
WEB_FUNCTION_NAMES = ("fetch_webpage", "web_search")


class WebError(Exception):
    """A fetch or search that cannot be done; the text tells the model why."""


@dataclass(frozen=True)
class WebSettings:
    fetch: bool = False
    private_addresses: bool = False  # let fetch_webpage reach loopback and private hosts
    searxng_url: str | None = None
    brave_key_env: str | None = None  # the variable holding a Brave Search API key
    brave_url: str = BRAVE_URL

    @classmethod
    def from_settings(cls, settings: Settings) -> WebSettings:
        return cls(
            settings.web_fetch,
            settings.web_private_addresses,
            settings.searxng_url,
            settings.brave_api_key_env,
            settings.brave_url or BRAVE_URL,
        )

    @property
    def searches(self) -> bool:
        return bool(self.searxng_url or os.environ.get(self.brave_key_env or ""))


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 is loopback too
    return ip.is_global and not ip.is_multicast


def _pinned(url: httpx.URL, allow_private: bool) -> tuple[httpx.URL, str]:
    """The URL with its host replaced by a checked address, and the host's name."""
    if url.scheme not in ("http", "https") or not url.host:
        raise WebError(f"Only http and https URLs can be fetched, not {str(url)!r}.")
    port = url.port or (443 if url.scheme == "https" else 80)
    host = url.raw_host.decode("ascii")  # IDNA-encoded, as DNS and TLS know it
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise WebError(f"The host {url.host!r} could not be resolved ({exc}).") from None
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not allow_private and (private := [a for a in addresses if not _public(a)]):
        raise WebError(
            f"{url.host} resolves to {private[0]}, a loopback, private or link-local "
            "address, which this server does not fetch; use a public URL."
        )
    return url.copy_with(host=addresses[0]), host


def fetch(url: str, settings: WebSettings) -> str:
    """The page at `url` as text, following redirects; WebError saying why not."""
    import httpx  # here: it takes a good part of a second to import, and few agents fetch

    deadline = time.monotonic() + TIMEOUT_S
    try:
        current = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise WebError(f"{url!r} is not a URL ({exc}).") from None
    with httpx.Client(timeout=TIMEOUT_S, follow_redirects=False) as client:
        for _hop in range(MAX_REDIRECTS + 1):
            target, host = _pinned(current, settings.private_addresses)
            headers = {"Host": current.netloc.decode(), "User-Agent": USER_AGENT}
            request = client.build_request(
                "GET", target, headers=headers, extensions={"sni_hostname": host}
            )
            try:
                response = client.send(request, stream=True)
            except httpx.HTTPError as exc:
                raise WebError(
                    f"Fetching {current} failed ({type(exc).__name__}: {exc})."
                ) from None
            try:
                if response.is_redirect:
                    current = current.join(response.headers["location"])
                    continue
                if response.status_code >= 400:
                    raise WebError(f"{current} answered HTTP {response.status_code}.")
                return _text(str(current), response, deadline)
            finally:
                response.close()
    raise WebError(f"{url} redirected more than {MAX_REDIRECTS} times; give the final URL.")


def _text(url: str, response: httpx.Response, deadline: float) -> str:
    import httpx

    kind = response.headers.get("content-type", "").split(";")[0].strip().lower()
    ext = LOADABLE.get(kind)
    if ext is None:
        raise WebError(f"{url} is {kind or 'of no declared type'}, not a web page or a PDF.")
    body = bytearray()
    try:
        for chunk in response.iter_bytes():
            body += chunk
            if len(body) > MAX_PAGE_BYTES:
                raise WebError(f"{url} is larger than {MAX_PAGE_BYTES // 2**20} MiB.")
            if time.monotonic() > deadline:
                raise WebError(f"{url} took longer than {TIMEOUT_S:g} s to fetch.")
    except httpx.HTTPError as exc:
        raise WebError(f"Reading {url} failed ({type(exc).__name__}: {exc}).") from None
    left = max(1.0, deadline - time.monotonic())
    try:
        document = load_bytes(url, ext, bytes(body), LoadOptions(parse_timeout_s=left))
    except LoadError as exc:
        raise WebError(str(exc)) from None
    return "\n\n".join(segment.text for segment in document.segments)


def search(query: str, settings: WebSettings) -> str:
    """The top results from the configured engine (SearXNG, else Brave), as title, URL
    and snippet."""
    if not query.strip():
        raise WebError("The query is empty; say what to search for.")
    if settings.searxng_url:
        endpoint = settings.searxng_url.rstrip("/") + "/search"
        answer = _ask(endpoint, {"q": query, "format": "json"}, {})
        results = [
            (r.get("title"), r.get("url"), r.get("content")) for r in answer.get("results", [])
        ]
    else:
        key = os.environ.get(settings.brave_key_env or "")
        if not key:  # offered only with a key: it was unset since
            raise WebError("The search engine's key is no longer set; tell the operator.")
        # The key goes only to the URL the operator configured (DESIGN invariant 8).
        answer = _ask(settings.brave_url, {"q": query}, {"X-Subscription-Token": key})
        found = answer.get("web", {}).get("results", [])
        results = [(r.get("title"), r.get("url"), r.get("description")) for r in found]
    if not results:
        return "No results found."
    lines = [
        f"{n}. {title or ''}\n   {url or ''}\n   {snippet or ''}"
        for n, (title, url, snippet) in enumerate(results[:SEARCH_RESULTS], start=1)
    ]
    return "\n".join(lines)


def _ask(endpoint: str, params: dict[str, str], headers: dict[str, str]) -> dict:
    import httpx

    try:
        response = httpx.get(
            endpoint,
            params=params,
            headers={"User-Agent": USER_AGENT, "Accept": "application/json", **headers},
            timeout=TIMEOUT_S,
        )
        response.raise_for_status()
        answer = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise WebError(
            f"The search engine failed ({type(exc).__name__}); try again later."
        ) from None
    if not isinstance(answer, dict):
        raise WebError("The search engine's answer could not be read; try again later.")
    return answer


def functions(settings: WebSettings) -> dict[str, Function]:
    """The web functions the operator turned on, for the agent loop."""

    def fetch_webpage(ctx: FunctionContext, url: str) -> str:
        """Fetch a web page or PDF and read it as text.

        Args:
            url: The page's full http or https URL.
        """
        return fetch(url, settings)

    def web_search(ctx: FunctionContext, query: str) -> str:
        """Search the web; returns titles, URLs and snippets. Read a result with fetch_webpage.

        Args:
            query: What to search for.
        """
        return search(query, settings)

    offered = [fetch_webpage] if settings.fetch else []
    offered += [web_search] if settings.searches else []
    return {fn.__name__: function_from_callable(fn) for fn in offered}
