"""Where Qdrant Edge keeps what it stores: payloads (each passage's text) in memory, so
that the first read of a passage is not a disk read."""

import json
import subprocess
import sys
import textwrap

from qdrant_edge import (
    Distance,
    EdgeConfig,
    EdgeShard,
    EdgeSparseVectorParams,
    EdgeVectorParams,
    Memory,
    Modifier,
    Point,
    SparseVector,
    UpdateOperation,
)

from appliance.index.edge import EdgeIndex
from appliance.index.store import IndexedChunk


def payload_storage(path) -> list[str]:
    segments = sorted((path / "segments").glob("*/segment.json"))
    return [json.loads(s.read_text())["config"]["payload_storage_type"]["type"] for s in segments]


def chunks(count: int, dim: int) -> list[IndexedChunk]:
    return [
        IndexedChunk(
            f"doc{i % 3}.txt",
            "title",
            0.0,
            "v1",
            f"hash{i}",
            i,
            None,
            "",
            f"passage number {i}",
            [1.0 if d == i % dim else 0.0 for d in range(dim)],
            SparseVector([i + 1], [1.0]),
        )
        for i in range(count)
    ]


def test_a_new_index_holds_its_payloads_in_memory(tmp_path):
    index = EdgeIndex(tmp_path / "edge", 8)
    index.upsert(chunks(30, 8))
    index.optimize()
    index.close()
    assert payload_storage(tmp_path / "edge") == ["in_ram_mmap"]


def index_made_before(path):
    old = EdgeShard.create(
        str(path),
        EdgeConfig(
            vectors={"dense": EdgeVectorParams(size=8, distance=Distance.Cosine)},
            sparse_vectors={"bm25": EdgeSparseVectorParams(modifier=Modifier.Idf)},
            payload_memory=Memory.Cold,  # as the appliance made them before
        ),
    )
    old.update(
        UpdateOperation.upsert_points(
            [Point(i, {"dense": c.dense}, {"text": c.text}) for i, c in enumerate(chunks(30, 8))]
        )
    )
    old.optimize()
    old.close()
    assert payload_storage(path) == ["mmap"]


def test_an_index_made_before_moves_its_payloads_to_memory_when_opened(tmp_path):
    path = tmp_path / "edge"
    index_made_before(path)
    index = EdgeIndex(path, 8)
    assert index.count() == 30
    index.close()
    assert json.loads((path / "edge_config.json").read_text())["payload_memory"] == "cached"
    assert payload_storage(path) == ["in_ram_mmap"]


KILLED_WHILE_CONVERTING = """
    import logging, os, sys
    from pathlib import Path
    from appliance.index.edge import EdgeIndex

    class Kill(logging.Handler):  # the process dies as the conversion starts
        def emit(self, record):
            if "into memory" in record.getMessage():
                os._exit(9)

    logging.getLogger("appliance.index").addHandler(Kill())
    logging.getLogger("appliance.index").setLevel(logging.INFO)
    EdgeIndex(Path(sys.argv[1]), 8)
"""


def test_a_conversion_cut_short_is_done_again_on_the_next_open(tmp_path):
    path = tmp_path / "edge"
    index_made_before(path)
    child = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(KILLED_WHILE_CONVERTING), str(path)], timeout=120
    )
    assert child.returncode == 9
    # the new config was saved on load, the segments were not rebuilt
    assert json.loads((path / "edge_config.json").read_text())["payload_memory"] == "cached"
    assert payload_storage(path) == ["mmap"]
    index = EdgeIndex(path, 8)
    assert index.count() == 30
    index.close()
    assert payload_storage(path) == ["in_ram_mmap"]
    reopened = EdgeIndex(path, 8)  # converted once: not again
    reopened.close()
    assert not list(path.glob("converting*"))
