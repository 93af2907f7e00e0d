"""Where memgpt keeps its files, the user's settings, and the persona and human texts.

Settings live in $MEMGPT_HOME/config.toml; environment variables override the file
(MEMGPT_MODEL, MEMGPT_EMBEDDING, ...). This module imports nothing heavy at load time:
`memgpt --help` reads it, and must start fast.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING

from memgpt.errors import MemGPTError
from memgpt.private import private_dir

if TYPE_CHECKING:
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

    def llm_config(self) -> LLMConfig:
        from memgpt.llm import parse_model_string

        config = parse_model_string(self.model)
        update = {
            "base_url": self.base_url,
            "api_key_env": self.api_key_env,
            "context_window": self.context_window,
        }
        return config.model_copy(update={k: v for k, v in update.items() if v is not None})

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
}
# An endpoint and key in the file belong to the file's model: when the environment
# picks another model, they must not follow it there.
TIED = {
    "model": ("base_url", "api_key_env"),
    "embedding": ("embedding_base_url", "embedding_api_key_env"),
}
INTEGERS = {"context_window", "embedding_dim"}


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
    values = {}
    for name, (section, key, _env) in LAYOUT.items():
        value = data.get(section, {}).get(key)
        if value is not None:
            values[name] = _checked(name, value, str(path))
    return Settings(**values)


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
    return settings


def save_settings(settings: Settings, path: Path | None = None) -> Path:
    """Write the settings that differ from the defaults; return the file's path."""
    path = path or config_path()
    import tomli_w

    defaults = Settings()
    sections: dict[str, dict[str, str | int]] = {}
    for f in fields(Settings):
        value = getattr(settings, f.name)
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


def _checked(name: str, value: object, where: str) -> str | int:
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
