import pytest

from appliance.config import EmbedderSettings
from appliance.index.edge import EdgeIndex, IndexedChunk, IndexLocked
from appliance.index.embedder import Embedder

TEXTS = {
    "leave.txt": "Full-time staff get 25 days of annual leave per year.",
    "printer.txt": "The office printer on floor 3 is an HP LaserJet.",
    "zh/leave.txt": "员工每年有二十五天年假。",
}


@pytest.fixture(scope="module")
def embedder(models_dir):
    return Embedder(EmbedderSettings(), models_dir / "embedder")


def chunks_for(embedder, source, text, doc_hash="v1"):
    dense = embedder.embed_documents([text])[0]
    sparse = embedder.sparse_document(text)
    text_hash = f"{doc_hash}:{text}"
    return [IndexedChunk(source, "t", 0.0, doc_hash, text_hash, 0, None, "", text, dense, sparse)]


def search(index, embedder, query, k=3):
    return index.search(embedder.embed_query(query), embedder.sparse_query(query), k, 10)


@pytest.fixture
def index(tmp_path, embedder):
    idx = EdgeIndex(tmp_path / "index", embedder.dim)
    for source, text in TEXTS.items():
        idx.upsert(chunks_for(embedder, source, text))
    yield idx
    idx.close()


def test_hybrid_search_finds_english_and_chinese(index, embedder):
    assert search(index, embedder, "how much annual leave")[0].source == "leave.txt"
    assert search(index, embedder, "LaserJet")[0].source == "printer.txt"
    # The English dense model knows no Chinese; BM25's multilingual tokenizer does.
    assert search(index, embedder, "年假")[0].source == "zh/leave.txt"


def test_replace_keeps_only_the_new_version(index, embedder):
    index.upsert(chunks_for(embedder, "leave.txt", "Staff get 30 days of leave.", "v2"))
    assert index.count("leave.txt") == 2
    index.delete_document("leave.txt", keep_hash="v2")
    assert index.count("leave.txt") == 1
    assert "30 days" in search(index, embedder, "days of leave", k=1)[0].text
    index.delete_document("leave.txt")
    assert index.chunks_per_source() == {"printer.txt": 1, "zh/leave.txt": 1}


def test_reopens_with_the_same_content_and_refuses_a_second_opener(tmp_path, embedder):
    path = tmp_path / "index"
    first = EdgeIndex(path, embedder.dim)
    first.upsert(chunks_for(embedder, "a.txt", "alpha beta gamma"))
    with pytest.raises(IndexLocked, match="open in another appliance process"):
        EdgeIndex(path, embedder.dim)
    first.close()
    again = EdgeIndex(path, embedder.dim)
    assert again.count() == 1
    assert search(again, embedder, "alpha", k=1)[0].source == "a.txt"
    again.close()
