"""The local web page and its JSON API (Flask app factory; served by waitress)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from flask import Flask

from appliance.users import Users, users_path
from appliance.web import errors, guard
from appliance.web.access_log import AccessLog
from appliance.web.actions import actions_api
from appliance.web.api import api
from appliance.web.identity import Identity
from appliance.web.library import library
from appliance.web.openai_api import openai_api
from appliance.web.pages import pages
from appliance.web.proxies import TrustedProxies
from appliance.web.sessions import Sessions
from appliance.web.signin import signin

if TYPE_CHECKING:
    from appliance.runtime import Runtime

STATIC = Path(__file__).parent / "static"


def sessions_path(data: Path) -> Path:
    return data / "sessions.sqlite3"


def create_app(runtime: Runtime) -> Flask:
    """`runtime`: the appliance to serve (runtime.py), its parts open, maybe still starting."""
    settings = runtime.settings
    app = Flask(__name__, static_folder=str(STATIC), static_url_path="/static")
    app.config["RUNTIME"] = runtime
    app.config["MAX_CONTENT_LENGTH"] = settings.limits.max_body_kb * 1024
    app.json.sort_keys = False
    errors.register(app)
    identity = Identity(
        settings.server.access_token,
        Users(users_path(settings.paths.data)),
        Sessions(sessions_path(settings.paths.data), settings.server.session_hours * 3600),
    )
    app.extensions["appliance.identity"] = identity
    guard.install(app, settings, identity)
    for blueprint in (pages, signin, api, actions_api, library, openai_api):
        app.register_blueprint(blueprint)
    # Outermost first: the proxy's headers say who the client is, then each request is logged.
    app.wsgi_app = TrustedProxies(AccessLog(app.wsgi_app), settings.server.trusted_proxies)
    return app
