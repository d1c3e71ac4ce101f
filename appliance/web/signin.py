"""Signing in on the page (/login) and out (/logout), with the access token or a user's key,
when either is needed (web/identity.py)."""

from __future__ import annotations

import html
import logging

from flask import Blueprint, redirect, request

from appliance.web import language
from appliance.web.guard import SESSION_COOKIE, failed_sign_in, sign_in_wait
from appliance.web.identity import identity

signin = Blueprint("signin", __name__)
log = logging.getLogger("appliance.web")


@signin.route("/login", methods=["GET", "POST"])
def login():
    keys = identity()
    if not keys.required():
        return redirect("/")
    if request.method == "GET":
        return _login_page("")
    wait = sign_in_wait()
    if wait:
        too_many = _words()["signin.too_many"].format(seconds=wait)
        return _login_page(too_many), 429, {"Retry-After": str(wait)}
    who = keys.by_key(request.form.get("token", ""))
    if who is None:
        failed_sign_in("wrong key on the sign-in page")
        return _login_page(_words()["signin.wrong"]), 401
    log.info(
        "signed in",
        extra={"event": "signed_in", "user": who.name, "client": request.remote_addr or "?"},
    )
    response = redirect("/")
    response.set_cookie(
        SESSION_COOKIE,
        keys.sign_in(who, request.remote_addr or ""),
        max_age=int(keys.sessions.lifetime_s),
        httponly=True,
        samesite="Strict",
        secure=request.is_secure,  # behind a TLS proxy: see server.trusted_proxies
    )
    return response


@signin.post("/logout")
def logout():
    identity().sessions.end(request.cookies.get(SESSION_COOKIE, ""))
    response = redirect("/login")
    response.delete_cookie(SESSION_COOKIE, httponly=True, samesite="Strict")
    return response


def _words() -> dict[str, str]:
    """The sign-in page's words in the reader's language (web/language.py)."""
    return language.catalogue(language.of_request())


def _login_page(message: str) -> str:
    tag = language.of_request()
    words = language.catalogue(tag)
    note = f'<p class="error" role="alert">{html.escape(message)}</p>' if message else ""
    return (
        f'<!doctype html><html lang="{tag}"><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(words['signin.title'])} · {html.escape(words['app.title'])}</title>"
        '<link rel="stylesheet" href="/static/style.css"><main class="login">'
        f"<h1>{html.escape(words['app.title'])}</h1>{note}"
        f'<form method="post" action="/login"><label for="token">'
        f"{html.escape(words['signin.token'])}</label>"
        '<input id="token" name="token" type="password" autocomplete="current-password" '
        f'required autofocus><button type="submit">{html.escape(words["signin.title"])}</button>'
        "</form></main></html>"
    )
