"""Users, their folders and keys (appliance/users.py), and `appliance users` in-process."""

from __future__ import annotations

import json
import sqlite3

import pytest

from appliance.cli import main
from appliance.errors import UserError
from appliance.users import EVERYONE, Caller, Users, key_hash, users_path


def test_what_a_caller_may_read():
    ana = Caller("ana", admin=False, folders=("hr", "finance/payroll"))
    assert ana.may_read("welcome.md"), "kb/'s top level is shared"
    assert ana.may_read("hr/leave.txt") and ana.may_read("hr/2026/bands.pdf")
    assert ana.may_read("finance/payroll/may.csv")
    assert not ana.may_read("finance/budget.xlsx")
    assert not ana.may_read("hr-archive/old.txt"), "a folder is not a prefix of a name"
    assert ana.may_enter("hr") and ana.may_enter("hr/2026") and ana.may_enter("finance/payroll")
    assert not ana.may_enter("finance") and not ana.may_enter("hr-archive")
    assert not Caller("ben", False, ()).may_read("hr/leave.txt")
    assert EVERYONE.may_read("anything/at/all.txt")


def test_users_grants_and_keys_are_stored_with_only_the_keys_hash(tmp_path):
    path = users_path(tmp_path)
    users = Users(path)
    assert not users.any()
    key = users.add("ana", folders=["/hr/", "finance\\payroll", "hr"])
    assert users.any() and key.startswith("kbu_")
    ana = users.by_key(key)
    assert ana.name == "ana" and ana.folders == ("finance/payroll", "hr")
    assert ana.caller() == Caller("ana", False, ("finance/payroll", "hr"))
    assert users.by_key(key + "x") is None and users.by_key("") is None

    users.grant("ana", ["*"])
    assert users.get("ana").caller().folders is None, "* is all of kb/"
    users.revoke("ana", ["*", "hr"])
    assert users.get("ana").folders == ("finance/payroll",)
    assert users.add("boss", admin=True) and users.get("boss").caller().folders is None

    new = users.new_key("ana")
    assert users.by_key(key) is None and users.by_key(new).name == "ana"
    users.remove("boss")
    assert users.get("boss") is None
    users.close()

    stored = sqlite3.connect(path).execute("SELECT name, key_hash FROM users").fetchall()
    assert stored == [("ana", key_hash(new))]
    assert new not in path.read_bytes().decode("latin-1")
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == 1
    reopened = Users(path)  # migrations already applied are not run again
    assert reopened.get("ana").folders == ("finance/payroll",)
    reopened.close()


@pytest.mark.parametrize("folder", ["..", "hr/../finance", "", "/", "h*r", "/etc/../.."])
def test_a_grant_outside_kb_or_a_pattern_is_refused(tmp_path, folder):
    users = Users(users_path(tmp_path))
    users.add("ana")
    with pytest.raises(UserError, match="not a folder of kb/"):
        users.grant("ana", [folder])
    users.close()


def test_bad_names_and_unknown_users_say_what_to_do(tmp_path):
    users = Users(users_path(tmp_path))
    with pytest.raises(UserError, match="not a usable user name"):
        users.add("ana smith")
    users.add("ana")
    with pytest.raises(UserError, match="exists already"):
        users.add("ana")
    for action in (users.remove, users.new_key):
        with pytest.raises(UserError, match="appliance users list"):
            action("nobody")
    with pytest.raises(UserError, match="no user named 'nobody'"):
        users.grant("nobody", ["hr"])
    users.close()


def test_the_users_command(tmp_path, capsys):
    where = ["--kb", str(tmp_path / "kb"), "--data", str(tmp_path / "data")]
    (tmp_path / "kb" / "hr").mkdir(parents=True)
    assert main(["users", "list", *where]) == 0
    assert "no users" in capsys.readouterr().out

    assert main(["users", "add", "ana", "hr", "finance", *where]) == 0
    out, err = capsys.readouterr()
    key = out.strip()
    assert key.startswith("kbu_") and "shown only once" in err
    assert "kb/finance does not exist" in err and "kb/hr does not" not in err

    assert main(["users", "revoke", "ana", "finance", *where]) == 0
    assert main(["users", "add", "boss", "--admin", *where]) == 0
    capsys.readouterr()
    assert main(["users", "list", "--json", *where]) == 0
    assert json.loads(capsys.readouterr().out) == [
        {"name": "ana", "admin": False, "folders": ["hr"]},
        {"name": "boss", "admin": True, "folders": []},
    ]
    assert main(["users", "list", *where]) == 0
    listed = capsys.readouterr().out
    assert "ana" in listed and "all of kb/" in listed and "top level" in listed

    assert main(["users", "grant", "ana", "../etc", *where]) == 2
    assert "not a folder of kb/" in capsys.readouterr().err
    assert main(["users", "grant", "ana", *where]) == 2
    assert main(["users", "remove", *where]) == 2
    assert main(["users", "remove", "nobody", *where]) == 2
    users = Users(users_path(tmp_path / "data"))
    assert users.by_key(key).name == "ana"
    users.close()


def test_doctor_says_who_may_read_what(tmp_path):
    from appliance.config import load_settings
    from appliance.doctor import access_check

    def check(**overrides):
        settings = load_settings(
            None, env={}, overrides={"paths.data": str(tmp_path / "data"), **overrides}
        )
        return access_check(settings)

    local = check()
    assert local.ok and not local.warning and "only this machine" in local.detail
    lan = check(**{"server.host": "0.0.0.0"})
    assert lan.warning and "anyone who reaches port" in lan.detail
    assert "APPLIANCE_ACCESS_TOKEN" in lan.fix and "appliance users add" in lan.fix
    token = check(**{"server.host": "0.0.0.0", "server.access_token": "t0ken"})
    assert not token.warning and "all of kb/" in token.detail
    users = Users(users_path(tmp_path / "data"))
    users.add("ana", folders=["hr"])
    users.add("boss", admin=True)
    users.close()
    by_folder = check(**{"server.host": "0.0.0.0"})
    assert not by_folder.warning and "2 user(s)" in by_folder.detail
    assert "1 admin user(s)" in by_folder.detail
