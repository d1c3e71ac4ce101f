"""Exact identifiers among near-identical documents: the one record holding a part number,
unit name or ticket id comes first (real embedder, real Qdrant Edge index, /api/search)."""

import random

TECHS = ["Anna Berg", "Li Wei", "Omar Haddad", "Sara Lund", "Kenji Sato"]


def records(count: int = 120) -> tuple[dict[str, str], list[dict]]:
    rng = random.Random(7)
    documents, facts = {}, []
    for n in range(count):
        unit = f"unit{n * 7 % 1000:04d}"
        part = f"ZX-{rng.randrange(100000, 999999)}"
        ticket = f"INC-2024-{rng.randrange(10000, 99999):05d}"
        tech = TECHS[n % len(TECHS)]
        documents[f"records/record-{n:03d}.md"] = (
            f"# Maintenance record {n}\n\n"
            f"Unit {unit} was serviced by {tech} after ticket {ticket}. The replacement "
            f"part {part} fits this unit and was fitted during the visit. The technician "
            "checked the pump pressure, the seals and the control board, and noted that the "
            "unit runs within its limits. The next service is due in six months.\n"
        )
        facts.append(
            {"file": f"records/record-{n:03d}.md", "unit": unit, "part": part, "ticket": ticket}
        )
    return documents, facts


def test_the_record_holding_an_identifier_comes_first(make_app):
    documents, facts = records()
    client = make_app(documents=documents).test_client()

    def first(question: str) -> str:
        response = client.get("/api/search", query_string={"q": question, "k": 5})
        assert response.status_code == 200, response.get_json()
        return response.get_json()["citations"][0]["source"]

    parts = random.Random(1).sample(facts, 20)
    misses = [
        f["part"] for f in parts if first(f"Which unit does part {f['part']} fit?") != f["file"]
    ]
    assert not misses, misses
    # Unit names and ticket ids too, and in a question in Chinese.
    for fact in random.Random(2).sample(facts, 10):
        assert first(f"who serviced {fact['unit']}") == fact["file"]
        assert first(f"what happened in {fact['ticket']}?") == fact["file"]
        assert first(f"零件{fact['part']}适用于哪台设备？") == fact["file"]
