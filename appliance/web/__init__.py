"""The local web page and its JSON API (Flask app factory; served by waitress)."""

from __future__ import annotations

from pathlib import Path

from flask import Flask

from appliance.web import errors, guard
from appliance.web.actions import actions_api
from appliance.web.api import api
from appliance.web.library import library
from appliance.web.openai_api import openai_api
from appliance.web.pages import pages

STATIC = Path(__file__).parent / "static"


def create_app(appliance) -> Flask:
    """`appliance` is the composition root's Appliance, already built (maybe still loading)."""
    app = Flask(__name__, static_folder=str(STATIC), static_url_path="/static")
    app.config["APPLIANCE"] = appliance
    app.config["MAX_CONTENT_LENGTH"] = appliance.settings.limits.max_body_kb * 1024
    app.json.sort_keys = False
    errors.register(app)
    server, limits = appliance.settings.server, appliance.settings.limits
    guard.install(app, server.access_token, server.metrics_public, limits.questions_per_minute)
    app.register_blueprint(pages)
    app.register_blueprint(api)
    app.register_blueprint(actions_api)
    app.register_blueprint(library)
    app.register_blueprint(openai_api)
    return app
