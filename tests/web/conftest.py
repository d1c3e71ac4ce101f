"""The web layer in-process, as the Flask tutorial tests it: an `app` built by the factory
over a real Runtime (Qdrant Edge index, manifest, embedder and the tiny model, on a temp
dir) and a `client` from app.test_client(). No server process, no sockets."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from appliance.app import open_parts
from appliance.config import load_settings
from appliance.runtime import Runtime
from appliance.web import create_app

TOKEN = "s3cret-token-for-tests"


class BufferedClient(FlaskClient):
    """Reads each response whole and closes it, as a real server does once it is sent
    (the access log writes its line at that moment)."""

    def open(self, *args, **kwargs):
        kwargs.setdefault("buffered", True)
        return super().open(*args, **kwargs)


def build_app(
    root: Path,
    models_dir: Path,
    generator: bool = True,
    documents: dict[str, str | bytes] | None = None,
    **overrides,
) -> Flask:
    """A Flask app over a ready Runtime in `root` (close it with close_app). `documents`:
    kb-relative path → text (or bytes), indexed first; `overrides`: dotted settings with
    "__" for "." (server__access_token=...)."""
    for rel, content in (documents or {}).items():
        (root / "kb" / rel).parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            (root / "kb" / rel).write_bytes(content)
        else:
            (root / "kb" / rel).write_text(content, encoding="utf-8")
    settings = load_settings(
        None,
        env={},
        overrides={
            "paths.kb": str(root / "kb"),
            "paths.data": str(root / "data"),
            "paths.models": str(models_dir),
            "generator.max_tokens": 16,
            **{k.replace("__", "."): v for k, v in overrides.items()},
        },
    )
    runtime = Runtime(open_parts(settings))
    if documents:
        runtime.parts.worker.sync_all()
    if generator:
        runtime.parts.load_generator()
        runtime.ready.set()
    app = create_app(runtime)
    app.test_client_class = BufferedClient
    return app


def close_app(app: Flask) -> None:
    app.config["RUNTIME"].close()


@pytest.fixture
def make_app(tmp_path, models_dir) -> Callable[..., Flask]:
    """make_app(generator=True, documents=None, **overrides): build_app in a fresh folder;
    every app made is closed after the test."""
    built: list[Flask] = []

    def make(**kwargs) -> Flask:
        built.append(build_app(tmp_path / f"app{len(built)}", models_dir, **kwargs))
        return built[-1]

    yield make
    for app in built:
        close_app(app)


@pytest.fixture
def app(make_app) -> Flask:
    return make_app()


@pytest.fixture
def client(app):
    return app.test_client()


class _Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def events(self, event: str) -> list[logging.LogRecord]:
        return [r for r in self.records if getattr(r, "event", None) == event]

    def text(self) -> str:
        return "\n".join(r.getMessage() + " " + str(vars(r)) for r in self.records)


@pytest.fixture
def logs():
    """Every record the appliance logs during the test (its loggers may not propagate)."""
    logger = logging.getLogger("appliance")
    handler, level = _Records(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(level)
