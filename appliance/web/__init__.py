"""The local web page and its JSON API (Flask app factory; served by waitress)."""

from __future__ import annotations

from pathlib import Path

from flask import Flask

from appliance.web.api import api
from appliance.web.pages import pages

STATIC = Path(__file__).parent / "static"


def create_app(appliance) -> Flask:
    """`appliance` is the composition root's Appliance, already built (maybe still loading)."""
    app = Flask(__name__, static_folder=str(STATIC), static_url_path="/static")
    app.config["APPLIANCE"] = appliance
    app.json.sort_keys = False
    app.register_blueprint(pages)
    app.register_blueprint(api)
    return app
