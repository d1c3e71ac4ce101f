import numpy as np
import pytest

from appliance.config import EmbedderSettings, MultilingualSettings
from appliance.documents.chunker import rough_prefix
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


def test_chunks_measured_with_its_tokenizer_fit_its_window(embedder):
    """Chunked with the embedder's own token counts, every chunk of English, Chinese and
    Japanese text fits the window the embedder reads (nothing is cut off its end)."""
    from appliance.documents import Section, chunk_sections

    texts = {
        "en": "Use os.path.join() to build paths; pathlib.Path is the modern way. " * 40,
        "zh": "使用tar命令可以把整个目录打包成一个归档文件，然后用gzip压缩。" * 40,
        "ja": "ディレクトリを再帰的にコピーするには、cp -r を使います。" * 40,
    }
    for language, text in texts.items():
        chunks = chunk_sections(
            [Section(text=text, page=None, heading="")], "a.txt", 60, 10, embedder.count_tokens
        )
        tokens = embedder.count_tokens([c.text for c in chunks])
        assert len(chunks) > 3 and max(tokens) <= 64, (language, tokens)
        assert min(tokens[:-1]) >= 40, (language, tokens)  # not needlessly small either


def test_identifiers_are_search_terms_of_their_own(embedder):
    """BM25's multilingual tokenizer drops numbers: alone, ZX-339563 and ZX-439563 would be
    the same query. With identifier terms, a record is found by its part number."""
    records = ["Part ZX-339563 fits unit0250.", "Part ZX-439563 fits unit0251."]
    vectors = [embedder.sparse_document(r) for r in records]

    def score(query, vector):
        weights = dict(zip(vector.indices, vector.values, strict=True))
        return sum(
            weights.get(i, 0.0) * v for i, v in zip(query.indices, query.values, strict=True)
        )

    for question, wanted in [("which unit fits ZX-439563", 1), ("part 339563", 0)]:
        query = embedder.sparse_query(question)
        scores = [score(query, v) for v in vectors]
        assert scores[wanted] > scores[1 - wanted], (question, scores)
    assert embedder.exact_query("what fits unit0250?") is not None
    assert embedder.exact_query("how much annual leave") is None


def multilingual_settings() -> MultilingualSettings:
    return MultilingualSettings()  # the defaults: the Universal Sentence Encoder's


@pytest.fixture(scope="module")
def multilingual(models_dir):
    """The multilingual embedder, as the only one."""
    return Embedder(multilingual_settings(), models_dir / "embedder-multilingual")


def test_the_multilingual_embedder_matches_questions_across_languages(multilingual):
    passages = multilingual.embed_documents(
        [
            "Use cp -r to copy a directory and everything in it.",
            "使用 tar 命令可以把整个目录打包成一个归档文件。",
            "Die Datei /etc/fstab beschreibt, welche Dateisysteme beim Start eingehängt werden.",
        ]
    )
    assert all(
        len(p) == 512 and np.linalg.norm(p) == pytest.approx(1.0, abs=1e-3) for p in passages
    )
    questions = {
        "ディレクトリを中身ごとコピーするには？": 0,  # Japanese → the English passage
        "How do I pack a whole folder into one archive?": 1,  # English → the Chinese one
        "开机时挂载哪些文件系统在哪里配置？": 2,  # Chinese → the German one
    }
    for question, wanted in questions.items():
        scores = np.dot(passages, multilingual.embed_query(question))
        assert int(np.argmax(scores)) == wanted, (question, scores)
    # Its tokenizer is inside the graph: chunks are measured by the rough count.
    assert multilingual.count_tokens(["使", "directory"]) == [1, 2]


def test_the_multilingual_embedder_reads_a_long_text_as_its_start(multilingual):
    """A chunk of one endless line (kept whole by the chunker, for the embedder to cut) is
    embedded as its first max_tokens by the rough count: given whole, 5 MB took 23 GB."""
    endless = " ".join(["y" * 1023] * 50)
    start = rough_prefix(endless, multilingual_settings().max_tokens)
    assert len(start) < len(endless) // 10
    whole, cut = multilingual.embed_documents([endless, start])
    assert whole == pytest.approx(cut, abs=1e-6)


def test_the_embedder_runs_where_onnx_runtime_can(models_dir):
    """auto takes the GPU only when ONNX Runtime has CUDA (onnxruntime-gpu); asking for cuda
    without it is refused with what to install, not a silent CPU run."""
    import onnxruntime

    from appliance.errors import ConfigError
    from appliance.index.embedder import execution_providers

    has_cuda = "CUDAExecutionProvider" in onnxruntime.get_available_providers()
    embedder = Embedder(EmbedderSettings(device="auto"), models_dir / "embedder")
    assert embedder.device == ("gpu" if has_cuda else "cpu")
    assert execution_providers("cpu") == ["CPUExecutionProvider"]
    if not has_cuda:
        with pytest.raises(ConfigError, match="install onnxruntime-gpu"):
            execution_providers("cuda")


def test_neither_embedders_threads_spin_after_a_run(models_dir):
    """A question is embedded by both models, then searched: ONNX Runtime's threads, left
    spin-waiting after one run, would hold the cores the next steps need."""
    both = Embedder(
        EmbedderSettings(),
        models_dir / "embedder",
        (multilingual_settings(), models_dir / "embedder-multilingual"),
    )
    sessions = [both._dense.model._model.model.model, both._multilingual.model._session]
    for session in sessions:
        options = session.get_session_options()
        assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"
