"""The contract every vector store backend passes: edge (Qdrant Edge) and qdrant
(qdrant-client, local folder; a server URL goes through the same client code)."""

import pytest

from appliance.config import EmbedderSettings, load_settings
from appliance.errors import IndexLocked
from appliance.index.edge import EdgeIndex
from appliance.index.embedder import Embedder
from appliance.index.qdrant import QdrantIndex
from appliance.index.store import MULTILINGUAL, Hit, IndexedChunk, SearchFilter, ranked

TEXTS = {
    "hr/leave.txt": "Full-time staff get 25 days of annual leave per year.",
    "it/printer.md": "The office printer on floor 3 is an HP LaserJet.",
    "it/guides/vpn.pdf": "Connect to the VPN before opening the intranet on leave days.",
    "zh/leave.txt": "员工每年有二十五天年假。",
}

BACKENDS = {
    "edge": lambda path, dim, second: EdgeIndex(path / "edge", dim, multilingual=second),
    "qdrant": lambda path, dim, second: QdrantIndex(dim, path=path / "qdrant", multilingual=second),
}


@pytest.fixture(scope="module")
def embedder(models_dir):
    return Embedder(EmbedderSettings(), models_dir / "embedder")


@pytest.fixture(params=sorted(BACKENDS))
def open_store(request, tmp_path, embedder):
    opened = []

    def open_(multilingual: tuple[int, float] | None = None):
        store = BACKENDS[request.param](tmp_path, embedder.dim, multilingual)
        opened.append(store)
        return store

    yield open_
    for store in opened:
        try:
            store.close()
        except Exception:
            pass


def chunk(embedder, source, text, doc_hash="v1", index=0):
    return IndexedChunk(
        source,
        "title",
        0.0,
        doc_hash,
        f"{doc_hash}:{index}:{text}",
        index,
        None,
        "",
        text,
        embedder.embed_documents([text])[0],
        embedder.sparse_document(text),
        multilingual=(embedder.embed_multilingual_documents([text]) or [None])[0],
        language=embedder.language_of(text) or "",
    )


def search(store, embedder, query, k=3, where=None):
    second = embedder.embed_multilingual_query(query)
    return store.search(
        embedder.embed_query(query), embedder.sparse_query(query), k, 10, where, None, second
    )


@pytest.fixture
def store(open_store, embedder):
    s = open_store()
    s.upsert([chunk(embedder, source, text) for source, text in TEXTS.items()])
    return s


def test_hybrid_search_finds_english_and_chinese(store, embedder):
    assert search(store, embedder, "how much annual leave")[0].source == "hr/leave.txt"
    assert search(store, embedder, "LaserJet")[0].source == "it/printer.md"
    # The English dense model knows no Chinese; BM25's multilingual tokenizer does.
    assert search(store, embedder, "年假")[0].source == "zh/leave.txt"


def test_ties_of_rank_fusion_go_to_the_words_then_to_the_file():
    """The same question brings the same passages in the same order in every process (the
    engine orders equal fused scores differently from one run to the next)."""

    def h(source, score, relevance, chunk=0):
        return Hit(source, "", None, "", "", score, chunk, "v1", relevance)

    hits = [h("b.txt", 1 / 62, 0.4), h("a.txt", 1 / 62, 0.4, 2), h("c.txt", 1 / 61, 0.1)]
    hits += [h("d.txt", 1 / 62, 0.5), h("a.txt", 1 / 62, 0.4, 1)]
    order = [(x.source, x.chunk) for x in ranked(hits)]
    # d.txt is closer in meaning than the others tied with it: the others' words ranked them.
    assert order == [("c.txt", 0), ("a.txt", 1), ("a.txt", 2), ("b.txt", 0), ("d.txt", 0)]


def test_search_orders_ties_the_same_way(store, embedder):
    for query in ("leave", "printer", "VPN intranet", "年假"):
        found = search(store, embedder, query, k=4)
        keys = [(-round(x.score, 9), x.relevance, x.source, x.chunk) for x in found]
        assert keys == sorted(keys), query


def test_held_terms_are_those_some_chunk_holds(store, embedder):
    terms = {word: embedder.name_terms(word) for word in ("LaserJet", "pacman", "VPN")}
    held = store.held(sorted(set().union(*terms.values())))
    assert terms["LaserJet"] <= held and terms["VPN"] <= held
    assert not terms["pacman"] & held
    in_hr = store.held(sorted(terms["LaserJet"] | terms["VPN"]), SearchFilter(folder="hr"))
    assert not in_hr, "only the searchable folder counts"


def test_filters_by_folder_and_file_type(store, embedder):
    in_it = search(store, embedder, "leave", k=5, where=SearchFilter(folder="it"))
    assert {h.source for h in in_it} == {"it/printer.md", "it/guides/vpn.pdf"}
    nested = search(store, embedder, "leave", k=5, where=SearchFilter(folder="/it/guides/"))
    assert [h.source for h in nested] == ["it/guides/vpn.pdf"]
    txt = search(store, embedder, "leave", k=5, where=SearchFilter(types=("txt",)))
    assert {h.source for h in txt} == {"hr/leave.txt", "zh/leave.txt"}
    assert search(store, embedder, "leave", where=SearchFilter(folder="nowhere")) == []
    files = SearchFilter(files=("zh/leave.txt", "it/printer.md"))
    assert {h.source for h in search(store, embedder, "leave", k=5, where=files)} == {
        "zh/leave.txt",
        "it/printer.md",
    }
    both = SearchFilter(types=("txt",), files=files.files)
    assert [h.source for h in search(store, embedder, "leave", k=5, where=both)] == ["zh/leave.txt"]


def test_access_keeps_to_the_granted_folders_and_the_top_level(store, embedder):
    store.upsert([chunk(embedder, "welcome.md", "Annual leave questions go to the HR desk.")])
    everything = {h.source for h in search(store, embedder, "annual leave LaserJet", k=10)}
    assert "hr/leave.txt" in everything and "it/printer.md" in everything

    it_only = SearchFilter(within=("it",))
    found = {h.source for h in search(store, embedder, "annual leave LaserJet", 10, it_only)}
    assert found == {"welcome.md", "it/printer.md", "it/guides/vpn.pdf"}
    nested = {
        h.source
        for h in search(store, embedder, "leave VPN", 10, SearchFilter(within=("it/guides",)))
    }
    assert nested == {"welcome.md", "it/guides/vpn.pdf"}
    top_only = {h.source for h in search(store, embedder, "leave", 10, SearchFilter(within=()))}
    assert top_only == {"welcome.md"}
    # A folder asked for outside the grants finds nothing, rather than the forbidden folder.
    assert search(store, embedder, "leave", 10, SearchFilter(folder="hr", within=("it",))) == []

    assert store.count(where=it_only) == 3
    assert store.count(where=SearchFilter(within=())) == 1
    assert store.count("hr/leave.txt", it_only) == 0
    laserjet = embedder.name_terms("LaserJet")
    assert not store.held(sorted(laserjet), SearchFilter(within=("hr",)))
    assert laserjet <= store.held(sorted(laserjet), it_only)


def test_replace_publish_and_delete(store, embedder):
    store.upsert([chunk(embedder, "hr/leave.txt", "Staff get 30 days of leave.", "v2")])
    assert store.count("hr/leave.txt") == 2
    store.publish("hr/leave.txt", "v1")
    assert all(
        h.doc_hash == "v1"
        for h in search(store, embedder, "days of leave", k=5)
        if h.source == "hr/leave.txt"
    )
    store.publish("hr/leave.txt", "v2")
    store.delete_document("hr/leave.txt", keep_hash="v2")
    assert store.count("hr/leave.txt") == 1
    assert "30 days" in search(store, embedder, "days of leave", k=1)[0].text
    store.delete_document("hr/leave.txt")
    assert store.chunks_per_source() == {s: 1 for s in TEXTS if s != "hr/leave.txt"}


def test_a_version_chunked_again_into_fewer_chunks_keeps_none_of_the_others(store, embedder):
    """The same file (one version) cut into 3 chunks, then into 2: the third, left over,
    was served beside the new ones (a QA pass, after chunk_tokens went 120 → 200)."""
    texts = ["Leave is 25 days.", "It is taken in full days.", "Ask your manager first."]
    store.upsert([chunk(embedder, "hr/rules.txt", t, "v1", n) for n, t in enumerate(texts)])
    store.upsert([chunk(embedder, "hr/rules.txt", t, "v1", n) for n, t in enumerate(texts[:2])])
    store.upsert([chunk(embedder, "hr/rules.txt", "Old wording.", "v0", 0)])
    store.delete_document("hr/rules.txt", keep_hash="v1", keep_chunks=2)
    assert sorted(h.chunk for h in store.passages("hr/rules.txt", [0, 1, 2])) == [0, 1]
    assert store.count("hr/rules.txt") == 2


def test_file_stems_are_those_of_the_published_files(store, embedder):
    """The names a question may call a file by (identifiers.file_words): before the first
    dot, and only of what searches can return."""
    for source in TEXTS:
        store.publish(source, "v1")
    store.publish("hr/leave.txt", "v2")  # a new version of a file is not a second file
    assert set(store.file_stems()) == {"leave", "printer", "vpn"}
    assert sorted(store.files_named("leave")) == ["hr/leave.txt", "zh/leave.txt"]
    store.publish("it/printer.md", None)
    store.publish("hr/leave.txt", None)  # zh/leave.txt is still there
    assert set(store.file_stems()) == {"leave", "vpn"}
    store.publish("zh/leave.txt", None)
    assert set(store.file_stems()) == {"vpn"}
    assert store.files_named("leave") == ()


def test_stored_vectors_are_found_by_text_hash(store, embedder):
    wanted = chunk(embedder, "it/printer.md", TEXTS["it/printer.md"])
    found = store.dense_vectors([wanted.text_hash, "unknown"])
    assert list(found) == [wanted.text_hash]
    assert found[wanted.text_hash] == pytest.approx(wanted.dense, abs=1e-5)


def test_reopens_with_the_same_content_and_refuses_a_second_opener(open_store, embedder):
    first = open_store()
    first.upsert([chunk(embedder, "a.txt", "alpha beta gamma")])
    first.flush()
    with pytest.raises(IndexLocked, match="open in another appliance process"):
        open_store()
    # the refused opener touched nothing: the first keeps writing (`appliance ask` beside a
    # running server once broke its every later flush)
    first.upsert([chunk(embedder, "b.txt", "delta epsilon")])
    first.flush()
    first.close()
    again = open_store()
    assert again.count() == 2
    assert search(again, embedder, "alpha", k=1)[0].source == "a.txt"


@pytest.fixture(scope="module")
def both(models_dir):
    """The default embedders: MiniLM, and the multilingual one beside it."""
    s = load_settings(None, env={}, overrides={"paths.models": str(models_dir)})
    return Embedder(s.embedder, s.embedder_dir, s.multilingual_embedder)


GUIDES = {
    "cp.txt": "Use cp -r to copy a directory together with everything inside it.",
    "printer.txt": "The office printer on floor 3 is an HP LaserJet.",
    "leave.txt": "Full-time staff get 25 days of annual leave per year.",
    "vpn.txt": "Connect to the VPN before opening the intranet from home.",
    "backup.txt": "Backups of the file server run every night at 2 am.",
    "mail.txt": "Mailboxes are limited to 50 GB; old mail is archived after two years.",
}


def test_a_question_not_in_english_is_searched_by_its_multilingual_vector_too(open_store, both):
    """An English passage, a Chinese question: BM25 shares no word with it and the English
    embedder reads the question as unknown tokens; the multilingual vectors match them."""
    store = open_store(multilingual=(both.multilingual_dim, 1.0))
    chunks = [chunk(both, source, text) for source, text in GUIDES.items()]
    store.upsert(chunks)
    question = "怎样把整个文件夹连同里面的东西一起拷贝？"
    found = [h.source for h in search(store, both, question, k=6)]
    alone = store.search(both.embed_query(question), both.sparse_query(question), 6, 10)
    assert [h.source for h in alone].index("cp.txt") == 5  # MiniLM's last
    assert found.index("cp.txt") < 3  # the multilingual vector's first
    # In English the first embedder alone ranks better: no multilingual vector is asked for.
    assert both.embed_multilingual_query("How do I copy a whole folder?") is None
    stored = store.dense_vectors([chunks[0].text_hash], MULTILINGUAL)
    assert stored[chunks[0].text_hash] == pytest.approx(chunks[0].multilingual, abs=1e-5)


def test_in_the_questions_language_words_rank_elsewhere_meaning_does(open_store, both):
    """Given the question's language, dense and BM25 rank only the passages in it, and the
    multilingual vectors rank all: a Chinese question about English guides finds the one
    that says it in other words, which MiniLM (unknown tokens) would put second."""
    store = open_store(multilingual=(both.multilingual_dim, 1.0))
    store.upsert([chunk(both, source, text) for source, text in GUIDES.items()])
    question = "办公室的打印机是什么型号？"
    plain = (both.embed_query(question), both.sparse_query(question), 6, 10)
    second = both.embed_multilingual_query(question)
    fused = [h.source for h in store.search(*plain, multilingual=second)]
    assert fused[0] == "leave.txt"
    found = store.search(*plain, multilingual=second, language="chinese", translated=())
    assert found[0].source == "printer.txt" and found[0].language == "english"
    assert {h.source for h in found} == set(fused)  # the same passages, ranked otherwise


def test_a_translation_of_a_file_in_the_questions_language_is_not_ranked_twice(open_store, both):
    """de/cp.txt and ja/cp.txt say the same: ranked twice by meaning, the Japanese version
    comes before the German passages a German question should get first. Named as
    `translated`, it is ranked once, as every passage is."""
    store = open_store(multilingual=(both.multilingual_dim, 1.0))
    texts = {
        "de/cp.txt": "Mit cp -r kopieren Sie ein Verzeichnis samt allen Dateien darin.",
        "ja/cp.txt": "cp -r でディレクトリを中身ごとコピーします。",
        "de/mv.txt": "Mit mv verschieben oder benennen Sie Dateien um.",
        "ja/mv.txt": "mv でファイルを移動または名前を変更します。",
    }
    store.upsert([chunk(both, source, text) for source, text in texts.items()])
    question = "Wie kopiere ich einen Ordner mit seinem ganzen Inhalt?"
    plain = (both.embed_query(question), both.sparse_query(question), 4, 10)
    second = both.embed_multilingual_query(question)
    twice = store.search(*plain, multilingual=second, language="german", translated=())
    assert [h.source for h in twice][:2] == ["de/cp.txt", "ja/cp.txt"]
    once = store.search(*plain, multilingual=second, language="german", translated=tuple(texts))
    assert [h.source for h in once] == ["de/cp.txt", "de/mv.txt", "ja/cp.txt", "ja/mv.txt"]
    german = store.chunks_per_source(SearchFilter(language="german"))
    assert german == {"de/cp.txt": 1, "de/mv.txt": 1}
    for source in texts:
        store.publish(source, "v1")
    assert store.translations("german") == ("ja/cp.txt", "ja/mv.txt")  # what the retriever
    store.publish("ja/mv.txt", None)  # names `translated`; kept until a file comes or goes
    assert store.translations("german") == ("ja/cp.txt",)


def test_an_index_of_other_vectors_is_made_anew_and_kept_otherwise(
    open_store, embedder, both, caplog
):
    """The embedders changed (the multilingual one added, or another size): the index
    cannot hold the new vectors, so it starts empty and kb/ is indexed again."""
    first = open_store()
    first.upsert([chunk(embedder, "a.txt", "alpha beta gamma")])
    first.flush()
    with pytest.raises(IndexLocked):  # in use: refused, and nothing is lost
        open_store(multilingual=(both.multilingual_dim, 1.0))
    assert first.count() == 1
    first.close()
    second = open_store(multilingual=(both.multilingual_dim, 1.0))
    assert second.count() == 0
    assert "indexed again" in caplog.text
    second.upsert([chunk(both, "a.txt", "alpha beta gamma")])
    second.close()
    again = open_store(multilingual=(both.multilingual_dim, 1.0))
    assert again.count() == 1
    assert search(again, both, "alpha", k=1)[0].source == "a.txt"


def test_hits_carry_a_comparable_relevance(store, embedder):
    on_topic = search(store, embedder, "annual leave days for full-time staff", k=1)[0]
    off_topic = search(store, embedder, "recipe for chocolate cake", k=1)[0]
    assert 0 < off_topic.relevance < on_topic.relevance <= 1
    assert on_topic.source == "hr/leave.txt" and on_topic.relevance > 0.5


def test_passages_by_position_only_from_the_published_version(open_store, embedder):
    store = open_store()
    store.upsert([chunk(embedder, "doc.txt", f"part {i}", "v1", i) for i in range(5)])
    store.upsert([chunk(embedder, "doc.txt", f"new part {i}", "v2", i) for i in range(2)])
    store.publish("doc.txt", "v1")
    assert [p.text for p in store.passages("doc.txt", [1, 2, 3])] == ["part 1", "part 2", "part 3"]
    store.publish("doc.txt", "v2")
    assert [p.chunk for p in store.passages("doc.txt", [0, 1, 2])] == [0, 1]
    assert store.passages("other.txt", [0]) == []
