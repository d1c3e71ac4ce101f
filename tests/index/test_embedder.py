import numpy as np
import pytest

from appliance.config import EmbedderSettings
from appliance.index.embedder import Embedder


@pytest.fixture(scope="module")
def embedder(models_dir):
    return Embedder(EmbedderSettings(max_tokens=64), models_dir / "embedder")


def test_dense_vectors_are_normalised_and_similar_texts_close(embedder):
    a, b, c = embedder.embed_documents(
        ["Annual leave is 25 days.", "Staff get 25 days of holiday.", "The printer is broken."]
    )
    assert len(a) == 384 and np.linalg.norm(a) == pytest.approx(1.0, abs=1e-3)
    assert np.dot(a, b) > np.dot(a, c)
    query = embedder.embed_query("how much annual leave")
    assert np.dot(query, a) > np.dot(query, c)


def test_text_past_max_tokens_does_not_change_the_dense_vector(embedder):
    long = " ".join(f"word{i}" for i in range(200))
    same, different = embedder.embed_documents([long + " extra tail", "short " + long])
    assert np.allclose(embedder.embed_documents([long])[0], same, atol=1e-5)
    assert not np.allclose(same, different, atol=1e-3)
    # BM25 still sees every word.
    assert len(embedder.sparse_document(long + " extra tail").indices) > 200


def test_prefixes_for_models_trained_with_them(models_dir):
    plain = Embedder(EmbedderSettings(), models_dir / "embedder")
    e5_style = Embedder(
        EmbedderSettings(query_prefix="query: ", document_prefix="passage: "),
        models_dir / "embedder",
    )
    text = "Full-time staff get 25 days of annual leave."
    assert np.allclose(e5_style.embed_query(text), plain.embed_query("query: " + text), atol=1e-5)
    assert np.allclose(
        e5_style.embed_documents([text])[0],
        plain.embed_documents(["passage: " + text])[0],
        atol=1e-5,
    )
    assert not np.allclose(e5_style.embed_query(text), plain.embed_query(text), atol=1e-3)
