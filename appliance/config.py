"""Settings: one YAML file, overridden by APPLIANCE_* environment variables, then by flags.

Every key is declared once here, as a field of a frozen dataclass; appliance.yaml documents
each one. A wrong key or value stops start-up with a message naming the key and what is allowed.
"""

from __future__ import annotations

import dataclasses
import difflib
import ipaddress
import logging
import os
import re
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from appliance.errors import ConfigError

log = logging.getLogger("appliance.config")

ENV_PREFIX = "APPLIANCE_"


@dataclass(frozen=True)
class Floors:
    """The relevance below which nothing retrieved is even close, and the question is refused
    unjudged: retrieval.min_relevance in the embedder's cosines, multilingual.min_relevance
    in the multilingual one's. That one's are closer together: a Chinese question and the
    English passage that answers it score 0.19 to 0.65, and questions about cooking or the
    weather 0.16 to 0.31 there, so the gate judges more of its questions."""

    dense: float = 0.3
    multilingual: float = 0.2

    def of(self, multilingual: bool) -> float:
        return self.multilingual if multilingual else self.dense


@dataclass(frozen=True)
class PathSettings:
    kb: Path = Path("kb")
    data: Path = Path("data")
    models: Path = Path("models")


@dataclass(frozen=True)
class EmbedderSettings:
    model_dir: str = "embedder"
    model_file: str = "model.onnx"
    format: Literal["transformer", "text_graph"] = "transformer"
    dim: int = 384
    pooling: Literal["mean", "cls"] = "mean"
    normalize: bool = True
    device: Literal["auto", "cpu", "cuda"] = "auto"
    threads: int = 0
    batch_size: int = 16
    max_tokens: int = 256
    query_prefix: str = ""
    document_prefix: str = ""


@dataclass(frozen=True)
class MultilingualSettings(EmbedderSettings):
    """A second embedder, multilingual: each chunk gets its vector too, and a question not in
    English is searched with it beside the first embedder and BM25 (Chinese book MRR 0.818 →
    0.891). Off when it is the embedder itself."""

    enabled: bool = True
    model_dir: str = "embedder-multilingual"
    format: Literal["transformer", "text_graph"] = "text_graph"
    dim: int = 512
    max_tokens: int = 512  # a chunk is 200 of the embedder's tokens: about 250 by its count
    weight: float = 1.0  # its ranking's weight in the fusion
    min_relevance: float = 0.2  # retrieval.min_relevance in this embedder's cosines


@dataclass(frozen=True)
class IndexSettings:
    backend: Literal["edge", "qdrant"] = "edge"
    qdrant_path: str = ""
    qdrant_url: str = ""
    qdrant_api_key: str = ""
    rrf_k: int = 20
    dense_weight: float = 1.0
    sparse_weight: float = 1.0
    candidates: int = 30
    optimize_above: int = 20000


@dataclass(frozen=True)
class GeneratorSettings:
    backend: Literal["llama_cpp", "openai"] = "llama_cpp"
    model: str = "generator/SmolLM2-135M-Instruct.Q4_1.gguf"
    n_ctx: int = 4096
    n_gpu_layers: int = -1
    threads: int = 0
    batch_threads: int = 0
    n_batch: int = 512
    flash_attn: Literal["auto", True, False] = "auto"
    kv_cache_type: Literal["f16", "q8_0", "q4_0"] = "f16"
    chat_format: str = ""
    max_tokens: int = 384
    temperature: float = 0.2
    repeat_penalty: float = 1.1
    api_base: str = ""
    api_model: str = ""
    api_key: str = ""
    timeout_s: float = 120.0
    retries: int = 2


@dataclass(frozen=True)
class RetrievalSettings:
    k: int = 5
    min_relevance: float = 0.3
    chunk_tokens: int = 200
    chunk_overlap_tokens: int = 30
    embed_context: bool = True


@dataclass(frozen=True)
class AnswerSettings:
    mode: Literal["auto", "generate", "extractive"] = "auto"
    passage_words: int = 60
    min_support: float = 0.75
    gate_weights: tuple[float, ...] = (-3.087, 5.201, 2.091, 2.726, -3.692, -3.547, 1.106, 1.933)
    min_answerable: float = 0.64


@dataclass(frozen=True)
class ServerSettings:
    host: str = "127.0.0.1"
    port: int = 8000
    threads: int = 16
    uploads: bool = False
    max_upload_mb: float = 50.0
    access_token: str = ""
    metrics_public: bool = False
    session_hours: float = 168.0
    allowed_hosts: tuple[str, ...] = ()
    trusted_proxies: tuple[str, ...] = ()
    request_timeout_s: float = 30.0


@dataclass(frozen=True)
class LimitsSettings:
    max_file_mb: float = 100.0
    max_file_chars: int = 10_000_000
    read_timeout_s: float = 180.0
    read_memory_mb: int = 2048
    max_question_chars: int = 2000
    max_question_tokens: int = 600
    max_body_kb: int = 64
    max_concurrent_requests: int = 4
    max_waiting: int = 8
    queue_timeout_s: float = 30.0
    history_turns: int = 3
    conversations: int = 1000
    questions_per_minute: int = 30
    searches_per_minute: int = 120
    failed_sign_ins_per_minute: int = 5
    connections_per_client: int = 64
    min_free_mb: float = 500.0


@dataclass(frozen=True)
class WatcherSettings:
    enabled: bool = True
    polling: bool = False
    settle_s: float = 1.0
    rescan_interval_s: float = 300.0
    ignore: tuple[str, ...] = (
        ".*",
        "~$*",
        "*~",
        "*.swp",
        "*.tmp",
        "*.part",
        "*.crdownload",
    )
    allow_outside: tuple[str, ...] = ()


@dataclass(frozen=True)
class OcrSettings:
    enabled: bool = True
    languages: str = "eng"
    page_timeout_s: float = 60.0
    max_pages: int = 200
    dpi: int = 300


@dataclass(frozen=True)
class ObserveSettings:
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_text: Literal["full", "snippets", "none"] = "full"
    query_log_file: bool = True
    history_days: float = 90.0
    history_max_rows: int = 100_000


TOOL_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")  # a tool's name: lower_snake_case


@dataclass(frozen=True)
class HttpToolSettings:
    """One internal HTTP API the conversation may call, once the user confirms."""

    name: str = ""
    description: str = ""
    url: str = ""
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "POST"
    parameters: dict = field(default_factory=lambda: {"type": "object", "properties": {}})
    headers: dict = field(default_factory=dict)  # values may name ${SECRETS} from .env
    timeout_s: float = 10.0


@dataclass(frozen=True)
class ToolsSettings:
    enabled: bool = False
    plugins: bool = True
    proposal_ttl_s: float = 600.0
    http: tuple[HttpToolSettings, ...] = ()


@dataclass(frozen=True)
class Settings:
    paths: PathSettings = field(default_factory=PathSettings)
    embedder: EmbedderSettings = field(default_factory=EmbedderSettings)
    multilingual: MultilingualSettings = field(default_factory=MultilingualSettings)
    index: IndexSettings = field(default_factory=IndexSettings)
    generator: GeneratorSettings = field(default_factory=GeneratorSettings)
    retrieval: RetrievalSettings = field(default_factory=RetrievalSettings)
    answers: AnswerSettings = field(default_factory=AnswerSettings)
    server: ServerSettings = field(default_factory=ServerSettings)
    limits: LimitsSettings = field(default_factory=LimitsSettings)
    watcher: WatcherSettings = field(default_factory=WatcherSettings)
    ocr: OcrSettings = field(default_factory=OcrSettings)
    observe: ObserveSettings = field(default_factory=ObserveSettings)
    tools: ToolsSettings = field(default_factory=ToolsSettings)

    @property
    def generator_model_path(self) -> Path:
        return self.paths.models / self.generator.model

    @property
    def embedder_dir(self) -> Path:
        return self.paths.models / self.embedder.model_dir

    @property
    def multilingual_embedder(self) -> tuple[MultilingualSettings, Path] | None:
        """The second, multilingual embedder and its folder, when one is used."""
        m = self.multilingual
        if not m.enabled or (m.model_dir, m.model_file) == (
            self.embedder.model_dir,
            self.embedder.model_file,
        ):
            return None
        return m, self.paths.models / m.model_dir

    @property
    def relevance_floors(self) -> Floors:
        return Floors(self.retrieval.min_relevance, self.multilingual.min_relevance)


SECTIONS: dict[str, type] = typing.get_type_hints(Settings)
SECRETS = (("index", "qdrant_api_key"), ("generator", "api_key"), ("server", "access_token"))


def load_settings(
    config_file: Path | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Build Settings from defaults < config file < environment (and .env) < overrides.

    `overrides` maps dotted keys ("server.port") to values, as command-line flags give them.
    Relative paths are resolved against the config file's folder (or the working directory).
    """
    base_dir = config_file.parent if config_file else Path.cwd()
    raw: dict[str, dict[str, Any]] = {}
    if config_file is not None:
        raw = _read_yaml(config_file)
        for section, key in SECRETS:
            values = raw.get(section)
            if isinstance(values, dict) and values.get(key):
                log.warning(
                    "%s.%s is written in %s: keep secrets in .env (%s=...), out of the config "
                    "file that is copied, shown and backed up with the appliance",
                    section,
                    key,
                    config_file,
                    _env_name(f"{section}.{key}"),
                    extra={"event": "config_warning"},
                )
    env = dict(env if env is not None else os.environ)
    env = {**read_dotenv(base_dir / ".env"), **env}
    if env.get("APPLIANCE_ACCESS_TOKEN"):  # the documented name of the one common secret
        env.setdefault("APPLIANCE_SERVER__ACCESS_TOKEN", env["APPLIANCE_ACCESS_TOKEN"])
    for warning in env_near_misses(env):
        log.warning(warning, extra={"event": "config_warning"})
    for dotted, value in _env_overrides(env).items():
        _set_dotted(raw, dotted, value, origin=f"environment variable {_env_name(dotted)}")
    for dotted, value in (overrides or {}).items():
        if value is not None:
            _set_dotted(raw, dotted, value, origin="command line")
    settings = _build(raw, source=str(config_file or "defaults"))
    settings = _with_secrets(settings, env)
    _check_ranges(settings)
    return _resolve_paths(settings, base_dir)


def read_dotenv(path: Path) -> dict[str, str]:
    """KEY=VALUE lines of a .env file (secrets); comments and blank lines ignored."""
    if not path.is_file():
        return {}
    values = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.removeprefix("export ").partition("=")
        values[key.strip()] = value.strip().strip("'\"")
    return values


def _read_yaml(path: Path) -> dict[str, dict[str, Any]]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except yaml.YAMLError as err:
        raise ConfigError(f"{path} is not valid YAML: {err}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must be a mapping of sections ({', '.join(SECTIONS)})")
    return data


def _env_name(dotted: str) -> str:
    section, key = dotted.split(".")
    return f"{ENV_PREFIX}{section.upper()}__{key.upper()}"


class EnvText(str):
    """A setting's value as an environment variable (or .env) gives it: read as YAML for a
    number, a flag or a list, taken as it is for text (a secret like `Pa55 #word!` or
    `123456` is a string, not a comment or a number)."""

    def parsed(self) -> Any:
        try:
            return yaml.safe_load(self) if self.strip() else ""
        except yaml.YAMLError:
            return str(self)


def _env_overrides(env: Mapping[str, str]) -> dict[str, EnvText]:
    """APPLIANCE_SERVER__PORT=8001 → {"server.port": EnvText("8001")}."""
    found = {}
    for name, text in env.items():
        if not name.startswith(ENV_PREFIX) or "__" not in name:
            continue
        section, _, key = name[len(ENV_PREFIX) :].partition("__")
        found[f"{section.lower()}.{key.lower()}"] = EnvText(text)
    return found


def env_near_misses(env: Mapping[str, str]) -> list[str]:
    """APPLIANCE_* names that set nothing but nearly name a setting (APPLIANCE_ACCES_TOKEN,
    APPLIANCE_SERVER_PORT with one underscore): said, since they are silently unused.
    Other APPLIANCE_* names (the compose file's APPLIANCE_BIND, …) are left alone."""
    settings = {
        _env_name(f"{section}.{key}")
        for section, cls in SECTIONS.items()
        for key in typing.get_type_hints(cls)
    }
    known = settings | {"APPLIANCE_ACCESS_TOKEN"}
    warnings = []
    for name in sorted(env):
        if not name.startswith(ENV_PREFIX) or name in known or "__" in name:
            continue
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.92)  # a letter or two
        if close:
            warnings.append(
                f"the environment variable {name} sets nothing: did you mean {close[0]}?"
            )
    return warnings


def _set_dotted(raw: dict, dotted: str, value: Any, origin: str) -> None:
    section, _, key = dotted.partition(".")
    if section not in SECTIONS or not key:
        raise ConfigError(
            f"unknown setting '{dotted}' from {origin}; sections are: {', '.join(SECTIONS)}"
        )
    allowed = typing.get_type_hints(SECTIONS[section])
    if origin != "command line" and key not in allowed:
        close = difflib.get_close_matches(key, allowed, n=1)
        hint = f"did you mean {_env_name(f'{section}.{close[0]}')}? " if close else ""
        raise ConfigError(
            f"unknown setting '{dotted}' from {origin}; {hint}"
            f"allowed keys in '{section}': {', '.join(allowed)}"
        )
    target = raw.setdefault(section, {})
    if not isinstance(target, dict):
        raise ConfigError(f"'{section}' must be a mapping of keys")
    target[key] = value


# Settings that were renamed: what to write instead.
RENAMED = {
    "retrieval.chunk_words": "chunks are now measured in the embedder's tokens, so that "
    "languages written without spaces get chunks of the same size: write "
    "retrieval.chunk_tokens instead (180 words of English are about 240 tokens)",
    "retrieval.chunk_overlap": "write retrieval.chunk_overlap_tokens instead (in the "
    "embedder's tokens)",
}


def _build(raw: dict[str, Any], source: str) -> Settings:
    sections = {}
    for name, values in raw.items():
        if name not in SECTIONS:
            raise ConfigError(
                f"unknown section '{name}' in {source}; allowed: {', '.join(SECTIONS)}"
            )
        if values is None:
            continue
        if not isinstance(values, dict):
            raise ConfigError(f"'{name}' in {source} must be a mapping of keys")
        sections[name] = _build_section(name, SECTIONS[name], values, source)
    return Settings(**sections)


def _build_section(name: str, cls: type, values: dict[str, Any], source: str) -> Any:
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for key, value in values.items():
        if f"{name}.{key}" in RENAMED:
            raise ConfigError(f"{name}.{key} in {source}: {RENAMED[f'{name}.{key}']}")
        if key not in hints:
            raise ConfigError(
                f"unknown key '{name}.{key}' in {source}; allowed keys in '{name}': "
                f"{', '.join(hints)}"
            )
        kwargs[key] = _coerce(f"{name}.{key}", hints[key], value)
    return cls(**kwargs)


def _coerce(key: str, hint: Any, value: Any) -> Any:
    origin = typing.get_origin(hint)
    if isinstance(value, EnvText):
        text = hint in (str, Path) or (
            origin is Literal and all(isinstance(a, str) for a in typing.get_args(hint))
        )
        value = str(value) if text else value.parsed()
    if origin is Literal:
        allowed = typing.get_args(hint)
        if value not in allowed:
            raise ConfigError(f"{key} is {value!r}; allowed: {', '.join(map(str, allowed))}")
        return value
    if origin is tuple and dataclasses.is_dataclass(typing.get_args(hint)[0]):
        if not isinstance(value, list):
            raise ConfigError(f"{key} must be a list of mappings, got {value!r}")
        item_cls = typing.get_args(hint)[0]
        for i, item in enumerate(value):
            if not isinstance(item, dict):
                raise ConfigError(f"{key}[{i}] must be a mapping, got {item!r}")
        return tuple(
            _build_section(f"{key}[{i}]", item_cls, item, "the config")
            for i, item in enumerate(value)
        )
    if hint is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{key} must be a mapping, got {value!r}")
        return value
    if origin is tuple and typing.get_args(hint)[0] is float:
        numbers = isinstance(value, list | tuple) and all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in value
        )
        if not numbers:
            raise ConfigError(f"{key} must be a list of numbers, got {value!r}")
        return tuple(float(v) for v in value)
    if origin is tuple:
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{key} must be a list of strings, got {value!r}")
        return tuple(value)
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key} must be true or false, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key} must be an integer, got {value!r}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{key} must be a number, got {value!r}")
        return float(value)
    if hint is Path:
        if not isinstance(value, str | Path) or not str(value):
            raise ConfigError(f"{key} must be a path, got {value!r}")
        return Path(value)
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"{key} must be a string, got {value!r}")
        return value
    raise ConfigError(f"{key}: unsupported setting type {hint}")  # pragma: no cover


_SECRET = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _with_secrets(s: Settings, env: Mapping[str, str]) -> Settings:
    """${NAME} in a tool's headers or URL comes from the environment or .env, so that
    secrets stay out of the YAML file."""

    def expand(key: str, text: str) -> str:
        def value(match: re.Match) -> str:
            if match[1] not in env:
                raise ConfigError(
                    f"{key} names ${{{match[1]}}}, which is not set in .env or the environment"
                )
            return env[match[1]]

        return _SECRET.sub(value, text)

    tools = tuple(
        dataclasses.replace(
            t,
            url=expand(f"tools.http[{i}].url", t.url),
            headers={
                h: expand(f"tools.http[{i}].headers.{h}", str(v)) for h, v in t.headers.items()
            },
        )
        for i, t in enumerate(s.tools.http)
    )
    return dataclasses.replace(s, tools=dataclasses.replace(s.tools, http=tools))


def _check_ranges(s: Settings) -> None:
    checks = [
        (1 <= s.server.port <= 65535, "server.port must be between 1 and 65535"),
        (s.server.threads >= 1, "server.threads must be at least 1"),
        (s.embedder.dim >= 1, "embedder.dim must be at least 1"),
        (s.embedder.threads >= 0, "embedder.threads must be 0 (all cores) or more"),
        (s.embedder.batch_size >= 1, "embedder.batch_size must be at least 1"),
        (s.embedder.max_tokens >= 16, "embedder.max_tokens must be at least 16"),
        (s.multilingual.dim >= 1, "multilingual.dim must be at least 1"),
        (s.multilingual.weight >= 0, "multilingual.weight must not be negative"),
        (s.index.rrf_k >= 1, "index.rrf_k must be at least 1"),
        (s.index.candidates >= 1, "index.candidates must be at least 1"),
        (s.index.dense_weight >= 0, "index.dense_weight must not be negative"),
        (s.index.sparse_weight >= 0, "index.sparse_weight must not be negative"),
        (s.generator.n_ctx >= 256, "generator.n_ctx must be at least 256"),
        (s.generator.n_gpu_layers >= -1, "generator.n_gpu_layers must be -1 (all) or more"),
        (s.generator.threads >= 0, "generator.threads must be 0 (auto) or more"),
        (s.generator.batch_threads >= 0, "generator.batch_threads must be 0 (all) or more"),
        (s.answers.passage_words >= 0, "answers.passage_words must be 0 (whole) or more"),
        (
            1 <= s.generator.max_tokens < s.generator.n_ctx,
            "generator.max_tokens must be at least 1 and below generator.n_ctx",
        ),
        (0 <= s.generator.temperature <= 2, "generator.temperature must be between 0 and 2"),
        (s.retrieval.k >= 1, "retrieval.k must be at least 1"),
        (s.retrieval.chunk_tokens >= 20, "retrieval.chunk_tokens must be at least 20"),
        (
            0 <= s.retrieval.chunk_overlap_tokens < s.retrieval.chunk_tokens,
            "retrieval.chunk_overlap_tokens must be at least 0 and below retrieval.chunk_tokens",
        ),
        (
            s.retrieval.chunk_tokens <= s.embedder.max_tokens,
            f"retrieval.chunk_tokens ({s.retrieval.chunk_tokens}) is more than "
            f"embedder.max_tokens ({s.embedder.max_tokens}): the embedder would see only the "
            "start of each chunk",
        ),
        (s.limits.max_file_mb > 0, "limits.max_file_mb must be positive"),
        (s.limits.max_file_chars >= 1, "limits.max_file_chars must be at least 1"),
        (s.limits.read_timeout_s > 0, "limits.read_timeout_s must be positive"),
        (s.ocr.page_timeout_s > 0, "ocr.page_timeout_s must be positive"),
        (s.ocr.max_pages >= 1, "ocr.max_pages must be at least 1"),
        (72 <= s.ocr.dpi <= 600, "ocr.dpi must be from 72 to 600 (scans are read at 300)"),
        (
            bool(re.fullmatch(r"[A-Za-z_]+(\+[A-Za-z_]+)*", s.ocr.languages)),
            "ocr.languages must be Tesseract language names joined by +, e.g. eng or eng+chi_sim",
        ),
        (
            s.limits.read_memory_mb >= 256,
            "limits.read_memory_mb must be at least 256 (the reader itself needs ~200 MB)",
        ),
        (s.limits.max_question_chars >= 1, "limits.max_question_chars must be at least 1"),
        (s.limits.max_question_tokens >= 1, "limits.max_question_tokens must be at least 1"),
        (s.limits.max_body_kb >= 1, "limits.max_body_kb must be at least 1"),
        (s.server.max_upload_mb > 0, "server.max_upload_mb must be positive"),
        (s.limits.questions_per_minute >= 0, "limits.questions_per_minute must be 0 or more"),
        (s.limits.searches_per_minute >= 0, "limits.searches_per_minute must be 0 or more"),
        (
            s.limits.failed_sign_ins_per_minute >= 1,
            "limits.failed_sign_ins_per_minute must be at least 1",
        ),
        (s.limits.connections_per_client >= 1, "limits.connections_per_client must be at least 1"),
        (s.server.session_hours > 0, "server.session_hours must be positive"),
        (s.server.request_timeout_s > 0, "server.request_timeout_s must be positive"),
        *_network_checks("server.trusted_proxies", s.server.trusted_proxies),
        (s.limits.min_free_mb >= 0, "limits.min_free_mb must be 0 or more"),
        (
            s.limits.max_concurrent_requests >= 1,
            "limits.max_concurrent_requests must be at least 1",
        ),
        (s.limits.max_waiting >= 0, "limits.max_waiting must be 0 or more"),
        (s.limits.queue_timeout_s > 0, "limits.queue_timeout_s must be positive"),
        (s.limits.history_turns >= 0, "limits.history_turns must be 0 or more"),
        (s.limits.conversations >= 1, "limits.conversations must be at least 1"),
        (
            s.server.threads >= s.limits.max_concurrent_requests + s.limits.max_waiting + 2,
            "server.threads must be at least limits.max_concurrent_requests + "
            "limits.max_waiting + 2, so that streams held open by queued and running answers "
            "leave threads for searches and health checks",
        ),
        (s.generator.n_batch >= 1, "generator.n_batch must be at least 1"),
        (s.generator.timeout_s > 0, "generator.timeout_s must be positive"),
        (s.generator.retries >= 0, "generator.retries must be 0 or more"),
        (
            s.generator.backend != "openai" or bool(s.generator.api_base),
            "generator.api_base must be set when generator.backend is openai",
        ),
        (-1 <= s.retrieval.min_relevance <= 1, "retrieval.min_relevance must be from -1 to 1"),
        (
            -1 <= s.multilingual.min_relevance <= 1,
            "multilingual.min_relevance must be from -1 to 1",
        ),
        (0 <= s.answers.min_support <= 1, "answers.min_support must be from 0 to 1"),
        (0 <= s.answers.min_answerable <= 1, "answers.min_answerable must be from 0 to 1"),
        (
            5 <= len(s.answers.gate_weights) <= 8,
            "answers.gate_weights must be 8 numbers: bias, relevance, coverage, passage "
            "coverage, names missing, versions missing, identifiers held, multilingual "
            "(appliance eval --calibrate prints them; 5 to 7, from before the later signals, "
            "still work "
            "without them; weights from before the names signal have 4: calibrate again, or "
            "remove the line for the defaults)",
        ),
        (s.generator.repeat_penalty >= 1, "generator.repeat_penalty must be 1 (none) or more"),
        (
            s.generator.kv_cache_type == "f16" or s.generator.flash_attn is not False,
            f"generator.kv_cache_type {s.generator.kv_cache_type} needs flash attention, and "
            "generator.flash_attn is false: set it to auto (or true), or kv_cache_type to f16",
        ),
        (s.watcher.settle_s >= 0, "watcher.settle_s must not be negative"),
        (s.observe.history_days > 0, "observe.history_days must be positive"),
        (s.observe.history_max_rows >= 1, "observe.history_max_rows must be at least 1"),
        (s.watcher.rescan_interval_s > 0, "watcher.rescan_interval_s must be positive"),
        (
            all(Path(p).is_absolute() for p in s.watcher.allow_outside),
            "watcher.allow_outside must list absolute folder paths",
        ),
        (s.tools.proposal_ttl_s > 0, "tools.proposal_ttl_s must be positive"),
    ]
    for i, t in enumerate(s.tools.http):
        checks += [
            (
                bool(TOOL_NAME.fullmatch(t.name)),
                f"tools.http[{i}].name must be lower_snake_case, got {t.name!r}",
            ),
            (
                bool(t.description.strip()),
                f"tools.http[{i}].description is needed: the model chooses by it",
            ),
            (
                t.url.startswith(("http://", "https://")),
                f"tools.http[{i}].url must be an http(s) URL",
            ),
            (t.timeout_s > 0, f"tools.http[{i}].timeout_s must be positive"),
            (
                t.parameters.get("type") == "object",
                f"tools.http[{i}].parameters must be a JSON schema of type object",
            ),
        ]
    names = [t.name for t in s.tools.http]
    checks.append((len(names) == len(set(names)), f"tools.http names must be unique: {names}"))
    for ok, message in checks:
        if not ok:
            raise ConfigError(message)


def _network_checks(key: str, entries: tuple[str, ...]) -> list[tuple[bool, str]]:
    def is_network(entry: str) -> bool:
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            return False
        return True

    return [
        (is_network(e), f"{key}: {e!r} is not an IP address or network (like 10.0.0.0/8)")
        for e in entries
    ]


def _resolve_paths(s: Settings, base_dir: Path) -> Settings:
    def resolve(p: Path) -> Path:
        p = p.expanduser()
        return (p if p.is_absolute() else base_dir / p).resolve()

    paths = PathSettings(**{f: resolve(getattr(s.paths, f)) for f in ("kb", "data", "models")})
    return dataclasses.replace(s, paths=paths)


def describe(settings: Settings) -> dict[str, dict[str, Any]]:
    """Settings as plain data (for `appliance config` and logs)."""
    out = dataclasses.asdict(settings)
    for section, key in SECRETS:
        if out[section][key]:
            out[section][key] = "***"
    for tool in out["tools"]["http"]:
        tool["headers"] = dict.fromkeys(tool["headers"], "***")
    return {
        section: {k: (str(v) if isinstance(v, Path) else v) for k, v in values.items()}
        for section, values in out.items()
    }
