"""JSON and JSON Lines: flattened to "path.to.key: value" lines."""

import json
from pathlib import Path

import pytest

from appliance.documents import Section, UnreadableDocument, read_document
from appliance.documents.json_text import LINES_PER_SECTION, RECORDS_PER_SECTION, flatten
from tests.corpus import write_text


def test_flatten_indexes_lists_and_keeps_strings_whole() -> None:
    value = {"a": {"b": [1, {"c": "two words, one value"}]}, "d": None, "e": [], "f": True}
    assert list(flatten(value)) == [
        "a.b[0]: 1",
        "a.b[1].c: two words, one value",
        "d: null",
        "e: []",
        "f: true",
    ]


def test_flatten_survives_deep_nesting() -> None:
    value: object = "bottom"
    for _ in range(5000):
        value = {"k": value}
    (line,) = flatten(value)
    assert line.endswith("k.k: bottom")


def test_json_object_sections_are_headed_by_top_level_key(tmp_path: Path) -> None:
    document = {
        "name": "Guest Wi-Fi",
        "network": {"ssid": "guests", "password": "ask reception"},
        "big": [f"item {n}" for n in range(LINES_PER_SECTION + 1)],
    }
    path = write_text(tmp_path / "wifi.json", json.dumps(document))
    sections = read_document(path)
    assert sections[0] == Section(
        text="name: Guest Wi-Fi\n\nnetwork.ssid: guests\nnetwork.password: ask reception",
        page=None,
        heading="",
    )
    assert [s.heading for s in sections[1:]] == ["big", "big"]
    assert sections[1].text.splitlines()[0] == "big[0]: item 0"
    assert sections[2].text == f"big[{LINES_PER_SECTION}]: item {LINES_PER_SECTION}"


def test_json_single_top_level_key_heads_its_section(tmp_path: Path) -> None:
    path = write_text(tmp_path / "one.json", '{"policy": {"days": 25}}')
    assert read_document(path) == [Section(text="policy.days: 25", page=None, heading="policy")]


def test_json_list_and_scalar_roots(tmp_path: Path) -> None:
    listed = write_text(tmp_path / "list.json", '[{"q": "Parking?", "a": "Level -1"}, "x"]')
    assert read_document(listed)[0].text == "[0].q: Parking?\n[0].a: Level -1\n\n[1]: x"
    scalar = write_text(tmp_path / "scalar.json", '"just a sentence"')
    assert read_document(scalar)[0].text == "just a sentence"


def test_invalid_json_gives_the_parsers_message(tmp_path: Path) -> None:
    path = write_text(tmp_path / "broken.json", '{"a": 1,\n "b": }')
    with pytest.raises(
        UnreadableDocument,
        match=r"^broken\.json could not be read as JSON: Expecting value: line 2 column 7",
    ):
        read_document(path)


def test_whitespace_only_json_has_no_sections(tmp_path: Path) -> None:
    assert read_document(write_text(tmp_path / "blank.json", " \n ")) == []


def test_json_lines_one_record_per_line(tmp_path: Path) -> None:
    path = write_text(
        tmp_path / "log.jsonl", '{"user": "ada", "msg": "hi"}\n\n{"user": "bob", "tags": ["x"]}\n'
    )
    assert read_document(path) == [
        Section(
            text="user: ada\nmsg: hi\n\nuser: bob\ntags[0]: x",
            page=None,
            heading="log > lines 1–3",
        )
    ]


def test_ndjson_is_split_into_sections_of_records(tmp_path: Path) -> None:
    lines = "".join(json.dumps({"n": n}) + "\n" for n in range(RECORDS_PER_SECTION + 1))
    sections = read_document(write_text(tmp_path / "events.ndjson", lines))
    assert [s.heading for s in sections] == ["events > lines 1–50", "events > line 51"]


def test_bad_json_line_names_the_line(tmp_path: Path) -> None:
    path = write_text(tmp_path / "log.jsonl", '{"ok": 1}\n{"truncated": \n')
    with pytest.raises(UnreadableDocument, match=r"^log\.jsonl .*line 2 is not valid JSON"):
        read_document(path)
