"""Where memgpt keeps its files, the user's settings, and the persona and human texts.

Settings live in $MEMGPT_HOME/config.toml; environment variables override the file
(MEMGPT_MODEL, MEMGPT_EMBEDDING, ...). This module imports nothing heavy at load time:
`memgpt --help` reads it, and must start fast.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from memgpt.errors import MemGPTError
from memgpt.private import private_dir

if TYPE_CHECKING:
    from memgpt.llm.providers import Providers
    from memgpt.schemas import EmbeddingConfig, LLMConfig

CONFIG_FILE = "config.toml"
DEFAULT_MODEL = "local"  # SmolLM2-135M through llama.cpp: works offline, a demo model
DEFAULT_EMBEDDING = "local"  # all-MiniLM-L6-v2, offline
# Provider -> (default model, its vector size).
EMBEDDING_MODELS = {
    "local": ("all-MiniLM-L6-v2", 384),
    "openai": ("text-embedding-3-small", 1536),
    "hash": ("hash-384", 384),
}
KINDS = ("persona", "human")
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class ConfigError(MemGPTError):
    """The config file, an override or a persona/human name is unusable; one sentence why."""


def home() -> Path:
    """$MEMGPT_HOME, else ~/.memgpt: the database, config and cached models live here."""
    return Path(os.environ.get("MEMGPT_HOME") or Path.home() / ".memgpt").expanduser()


def database_path() -> Path:
    return home() / "memgpt.db"


def config_path() -> Path:
    return home() / CONFIG_FILE


@dataclass
class Settings:
    """What new agents use unless told otherwise. None means "the backend's default"."""

    model: str = DEFAULT_MODEL  # a model string: "local", "openai/gpt-4o-mini", "ollama/llama3.1"
    base_url: str | None = None
    api_key_env: str | None = None  # the name of the variable holding the key, never the key
    context_window: int | None = None
    embedding: str = DEFAULT_EMBEDDING  # provider: local, openai or hash
    embedding_model: str | None = None
    embedding_base_url: str | None = None
    embedding_api_key_env: str | None = None
    embedding_dim: int | None = None
    # Operator-added or changed model providers: name -> {kind, base_url, api_key_env,
    # context_window, models} (`[providers.NAME]` in the file).
    providers: dict[str, dict[str, Any]] = field(default_factory=dict)
    # User tools the operator lets reach the network, each as "ORGANIZATION_ID/TOOL_NAME"
    # (a name alone would let any organization's tool of that name out).
    network_tools: list[str] = field(default_factory=list)
    # The built-in web functions, offered to agents only when turned on here.
    web_fetch: bool = False  # fetch_webpage
    web_private_addresses: bool = False  # may it fetch loopback, private, link-local hosts
    searxng_url: str | None = None  # web_search through this SearXNG instance, or else
    brave_api_key_env: str | None = None  # through Brave, with the key in this variable
    brave_url: str | None = None  # None: Brave's own API
    # MCP servers an organization may register: stdio command lines (compared whole) and
    # URL prefixes; nothing else is started or reached (see memgpt.tools.mcp).
    mcp_stdio_commands: list[str] = field(default_factory=list)
    mcp_urls: list[str] = field(default_factory=list)
    mcp_timeout_s: int | None = None  # a call's cap, connecting included; None: 30 s

    def llm_config(self) -> LLMConfig:
        """The default model, resolved: its provider's URL and key variable filled in."""
        registry = self.registry()
        return registry.resolve(registry.config(self.model))

    def registry(self) -> Providers:
        """The built-in providers, then the configured ones; base_url, api_key_env and
        context_window (MEMGPT_BASE_URL, ...) set the default model's provider."""
        from memgpt.llm import providers as p

        by_name = {x.name: x for x in p.BUILTIN}
        for name, entry in self.providers.items():
            by_name[name] = p.provider_from(name, entry, by_name.get(name), "providers")
        name, _model = p.split_handle(self.model)
        if name not in by_name:
            p.Providers(by_name.values()).get(name)  # raises, listing the known ones
        default = {"base_url": self.base_url, "api_key_env": self.api_key_env}
        if self.context_window:
            default["context_window"] = self.context_window
        default = {k: v for k, v in default.items() if v is not None}
        if default:
            by_name[name] = p.checked(
                replace(by_name[name], **default), f"the settings of {self.model}"
            )
        return p.Providers(by_name.values())

    def embedding_config(self) -> EmbeddingConfig:
        from memgpt.schemas import EmbeddingConfig

        if self.embedding not in EMBEDDING_MODELS:
            raise ConfigError(
                f"Unknown embedding backend {self.embedding!r}; use one of "
                f"{', '.join(EMBEDDING_MODELS)} (`memgpt configure --embedding ...`)."
            )
        model, dim = EMBEDDING_MODELS[self.embedding]
        return EmbeddingConfig(
            provider=self.embedding,
            model=self.embedding_model or model,
            base_url=self.embedding_base_url,
            api_key_env=self.embedding_api_key_env,
            dim=self.embedding_dim or dim,
        )


# Each setting's place in the file and its environment variable.
LAYOUT: dict[str, tuple[str, str, str]] = {
    "model": ("llm", "model", "MEMGPT_MODEL"),
    "base_url": ("llm", "base_url", "MEMGPT_BASE_URL"),
    "api_key_env": ("llm", "api_key_env", "MEMGPT_API_KEY_ENV"),
    "context_window": ("llm", "context_window", "MEMGPT_CONTEXT_WINDOW"),
    "embedding": ("embedding", "provider", "MEMGPT_EMBEDDING"),
    "embedding_model": ("embedding", "model", "MEMGPT_EMBEDDING_MODEL"),
    "embedding_base_url": ("embedding", "base_url", "MEMGPT_EMBEDDING_BASE_URL"),
    "embedding_api_key_env": ("embedding", "api_key_env", "MEMGPT_EMBEDDING_API_KEY_ENV"),
    "embedding_dim": ("embedding", "dim", "MEMGPT_EMBEDDING_DIM"),
    "network_tools": ("tools", "network", "MEMGPT_NETWORK_TOOLS"),
    "web_fetch": ("web", "fetch", "MEMGPT_WEB_FETCH"),
    "web_private_addresses": ("web", "private_addresses", "MEMGPT_WEB_PRIVATE_ADDRESSES"),
    "searxng_url": ("web", "searxng_url", "MEMGPT_SEARXNG_URL"),
    "brave_api_key_env": ("web", "brave_api_key_env", "MEMGPT_BRAVE_API_KEY_ENV"),
    "brave_url": ("web", "brave_url", "MEMGPT_BRAVE_URL"),
    "mcp_stdio_commands": ("mcp", "stdio_commands", "MEMGPT_MCP_STDIO_COMMANDS"),
    "mcp_urls": ("mcp", "urls", "MEMGPT_MCP_URLS"),
    "mcp_timeout_s": ("mcp", "timeout_s", "MEMGPT_MCP_TIMEOUT_S"),
}
# An endpoint and key in the file belong to the file's model: when the environment
# picks another model, they must not follow it there.
TIED = {
    "model": ("base_url", "api_key_env"),
    "embedding": ("embedding_base_url", "embedding_api_key_env"),
}
INTEGERS = {"context_window", "embedding_dim", "mcp_timeout_s"}
BOOLEANS = {"web_fetch", "web_private_addresses"}
# A TOML array, or a comma-separated variable.
LISTS = {"network_tools", "mcp_stdio_commands", "mcp_urls"}
# MEMGPT_PROVIDER_<NAME>_<SETTING>: a provider's setting from the environment.
PROVIDER_ENV = re.compile(
    r"^MEMGPT_PROVIDER_(.+)_(KIND|BASE_URL|API_KEY_ENV|CONTEXT_WINDOW|MODELS)$"
)


def read_file(path: Path | None = None) -> Settings:
    """The settings in the config file alone (defaults where it is silent or absent)."""
    import tomllib

    path = path or config_path()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return Settings()
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"{path} is not valid TOML ({exc}); fix it, delete it, or run `memgpt configure`."
        ) from None
    values: dict[str, Any] = {}
    for name, (section, key, _env) in LAYOUT.items():
        value = data.get(section, {}).get(key)
        if value is not None:
            values[name] = _checked(name, value, str(path))
    providers = data.get("providers", {})
    if not isinstance(providers, dict) or not all(isinstance(v, dict) for v in providers.values()):
        raise ConfigError(f"{path}: each provider must be a [providers.NAME] table.")
    return Settings(**values, providers=providers)


def load_settings(model: str | None = None) -> Settings:
    """The config file, then the environment on top; `model` (as typed after --model)
    overrides the model like MEMGPT_MODEL does."""
    settings = read_file()
    overrides = {}
    for name, (_section, _key, env) in LAYOUT.items():
        if raw := os.environ.get(env):
            overrides[name] = _checked(name, raw, env)
    if model:
        overrides["model"] = model
    # The model and embedding choice first: a new one drops the file's endpoint and key...
    for name, tied in TIED.items():
        if name in overrides and overrides[name] != getattr(settings, name):
            for field_name in tied:
                setattr(settings, field_name, None)
    # ...then every override, so an endpoint or key given in the environment still applies.
    for name, value in overrides.items():
        setattr(settings, name, value)
    for env, raw in os.environ.items():
        if (match := PROVIDER_ENV.match(env)) and raw:
            name, key = match[1].lower(), match[2].lower()
            value: str | int = (
                _checked("context_window", raw, env) if key == "context_window" else raw
            )
            settings.providers.setdefault(name, {})[key] = value
    return settings


def model_config(handle: str) -> LLMConfig:
    """A "provider/model" handle, resolved against the configured providers."""
    registry = load_settings().registry()
    return registry.resolve(registry.config(handle))


def save_settings(settings: Settings, path: Path | None = None) -> Path:
    """Write the settings that differ from the defaults; return the file's path."""
    path = path or config_path()
    import tomli_w

    defaults = Settings()
    sections: dict[str, dict[str, Any]] = {}
    for f in fields(Settings):
        value = getattr(settings, f.name)
        if f.name == "providers":
            if value:
                sections["providers"] = value
            continue
        if value is None or (value == getattr(defaults, f.name) and f.name not in TIED):
            continue
        section, key, _env = LAYOUT[f.name]
        sections.setdefault(section, {})[key] = value
    body = tomli_w.dumps(sections)
    private_dir(path.parent)
    tmp = path.with_suffix(".tmp")
    tmp.write_text("# memgpt settings; environment variables override them.\n\n" + body)
    tmp.replace(path)  # never leave a half-written config behind
    return path


def _checked(name: str, value: object, where: str) -> str | int | bool | list[str]:
    if name in BOOLEANS:
        if isinstance(value, str) and value.lower() in ("1", "true", "yes", "0", "false", "no"):
            return value.lower() in ("1", "true", "yes")
        if not isinstance(value, bool):
            raise ConfigError(f"{where} sets {name} to {value!r}; it must be true or false.")
        return value
    if name in LISTS:
        items = [v.strip() for v in value.split(",")] if isinstance(value, str) else value
        if not isinstance(items, list) or not all(isinstance(v, str) for v in items):
            raise ConfigError(f"{where} sets {name} to {value!r}; it must be a list of strings.")
        items = [v for v in items if v]
        if name == "network_tools" and (loose := [v for v in items if "/" not in v]):
            raise ConfigError(
                f"{where} names the network tool {loose[0]!r}; give it as "
                "ORGANIZATION_ID/TOOL_NAME (`memgpt server create-key` prints the id)."
            )
        return items
    if name in INTEGERS:
        try:
            number = int(value)  # type: ignore[call-overload]
        except (TypeError, ValueError):
            number = 0
        if number <= 0 or isinstance(value, bool):
            raise ConfigError(
                f"{where} sets {name} to {value!r}; it must be a positive whole number."
            )
        return number
    if not isinstance(value, str):
        raise ConfigError(f"{where} sets {name} to {value!r}; it must be a string.")
    return value


# --- personas and humans: named starting texts for an agent's memory blocks ---


def builtin_texts(kind: str) -> dict[str, str]:
    from memgpt.agent.prompts import DEFAULT_HUMAN, DEFAULT_PERSONA

    return {"persona": {"sam": DEFAULT_PERSONA}, "human": {"basic": DEFAULT_HUMAN}}[kind]


DEFAULT_TEXT_NAMES = {"persona": "sam", "human": "basic"}


def texts_dir(kind: str) -> Path:
    return home() / f"{kind}s"


def list_texts(kind: str) -> dict[str, str]:
    """Name -> text: the built-in ones, then the user's files ($MEMGPT_HOME/personas/NAME.txt)."""
    texts = dict(builtin_texts(kind))
    folder = texts_dir(kind)
    if folder.is_dir():
        for file in sorted(folder.glob("*.txt")):
            texts[file.stem] = file.read_text(encoding="utf-8").strip()
    return texts


def get_text(kind: str, name: str) -> str:
    texts = list_texts(kind)
    if name not in texts:
        raise ConfigError(
            f"There is no {kind} named {name!r}; see `memgpt list {kind}s` or add it with "
            f"`memgpt add {kind} {name} --text ...`."
        )
    return texts[name]


def add_text(kind: str, name: str, text: str) -> Path:
    if not NAME.match(name):
        raise ConfigError(
            f"{name!r} cannot name a {kind}; use letters, digits, '-', '_' and '.' only."
        )
    if not text.strip():
        raise ConfigError(f"The {kind} text is empty; give it with --text or --file.")
    path = texts_dir(kind) / f"{name}.txt"
    private_dir(path.parent)
    path.write_text(text.strip() + "\n", encoding="utf-8")
    return path
