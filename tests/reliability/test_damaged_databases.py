"""SQLite files damaged on disk: made anew where they can be, named where they cannot."""

import os

import pytest

from appliance.errors import ApplianceError
from appliance.observe import QueryHistory
from appliance.sync.manifest import Manifest
from appliance.users import Users
from appliance.web.sessions import Sessions


def damage(path):
    path.write_bytes(os.urandom(4096))  # what a disk error or a copy cut short leaves


def test_what_can_be_made_again_is_set_aside_and_started_anew(tmp_path):
    """Each stopped the start with "sqlite3.DatabaseError: file is not a database", naming
    no file: a damaged query history (only a log) took the whole service down (a QA pass)."""
    opened = {
        "queries.sqlite3": lambda p: QueryHistory(p, None),
        "sessions.sqlite3": lambda p: Sessions(p, 3600),
        "manifest.sqlite3": Manifest,
    }
    for name, open_it in opened.items():
        damage(tmp_path / name)
        store = open_it(tmp_path / name)  # no error: a new, empty one
        store.close()
        aside = [p.name for p in tmp_path.iterdir() if p.name.startswith(f"{name}.damaged-")]
        assert len(aside) == 1, name  # kept for whoever wants to look at it
    assert Manifest(tmp_path / "manifest.sqlite3").entries() == []


def test_the_users_file_is_named_with_the_fix(tmp_path):
    damage(tmp_path / "users.sqlite3")
    with pytest.raises(ApplianceError) as raised:
        Users(tmp_path / "users.sqlite3")
    assert str(tmp_path / "users.sqlite3") in str(raised.value)
    assert "Restore it from a backup" in str(raised.value)
    assert (tmp_path / "users.sqlite3").exists()  # left as it is
