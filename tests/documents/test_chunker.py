import pytest

from appliance.documents import Chunk, Section, chunk_sections


def numbered_words(count: int, prefix: str = "w") -> str:
    return " ".join(f"{prefix}{n}" for n in range(count))


def test_short_section_becomes_one_chunk_with_its_metadata() -> None:
    section = Section(text="  Annual leave\n\n is   25 days. ", page=4, heading="Leave > Annual")
    assert chunk_sections([section], "hr/policy.pdf") == [
        Chunk(
            text="Annual leave\n\nis 25 days.",
            source="hr/policy.pdf",
            page=4,
            heading="Leave > Annual",
            index=0,
        )
    ]


def test_windows_have_the_requested_size_and_overlap() -> None:
    section = Section(text=numbered_words(100), page=None, heading="")
    chunks = chunk_sections([section], "a.txt", chunk_words=40, overlap_words=10)
    windows = [chunk.text.split() for chunk in chunks]
    assert [len(w) for w in windows] == [40, 40, 40]
    assert windows[0][0] == "w0" and windows[-1][-1] == "w99"
    for previous, following in zip(windows, windows[1:], strict=False):
        assert previous[-10:] == following[:10]
    # Every word is covered, in order, once the overlaps are removed.
    covered = windows[0] + [word for w in windows[1:] for word in w[10:]]
    assert covered == numbered_words(100).split()


def test_zero_overlap_tiles_the_text_exactly() -> None:
    section = Section(text=numbered_words(25), page=None, heading="")
    chunks = chunk_sections([section], "a.txt", chunk_words=10, overlap_words=0)
    words = numbered_words(25).split()
    assert [c.text for c in chunks] == [
        " ".join(words[0:10]),
        " ".join(words[10:20]),
        " ".join(words[20:]),
    ]


def test_window_prefers_to_end_at_a_sentence_near_its_end() -> None:
    words = numbered_words(100).split()
    words[36] += "."  # sentence end inside the last 20% of a 40-word window
    section = Section(text=" ".join(words), page=None, heading="")
    chunks = chunk_sections([section], "a.txt", chunk_words=40, overlap_words=5)
    first = chunks[0].text.split()
    assert first[-1] == "w36."
    assert chunks[1].text.split()[0] == "w32"  # 37 words, minus the 5-word overlap


def test_sentence_end_early_in_the_window_is_ignored() -> None:
    words = numbered_words(100).split()
    words[5] += "."
    section = Section(text=" ".join(words), page=None, heading="")
    chunks = chunk_sections([section], "a.txt", chunk_words=40, overlap_words=5)
    assert len(chunks[0].text.split()) == 40


def test_chunks_never_span_sections_and_keep_each_page() -> None:
    sections = [
        Section(text=numbered_words(30, "p1_"), page=1, heading=""),
        Section(text="tiny page two", page=2, heading=""),
        Section(text=numbered_words(30, "p3_"), page=3, heading="Appendix"),
    ]
    chunks = chunk_sections(sections, "manual.pdf", chunk_words=20, overlap_words=5)
    assert [c.index for c in chunks] == list(range(len(chunks)))
    assert [c.page for c in chunks] == [1, 1, 2, 3, 3]
    for chunk in chunks:
        assert len(chunk.text.split()) <= 20
        prefixes = {word.split("_")[0] for word in chunk.text.split()}
        expected = {1: {"p1"}, 2: {"tiny", "page", "two"}, 3: {"p3"}}[chunk.page]
        assert prefixes == expected
    assert chunks[2].text == "tiny page two"
    assert {c.heading for c in chunks if c.page == 3} == {"Appendix"}
    assert all(c.source == "manual.pdf" for c in chunks)


def test_no_sections_give_no_chunks() -> None:
    assert chunk_sections([], "empty.txt") == []


def test_default_sizes_cap_chunks_at_180_words() -> None:
    chunks = chunk_sections([Section(text=numbered_words(500), page=None, heading="")], "a.txt")
    assert max(len(c.text.split()) for c in chunks) == 180
    assert chunks[1].text.split()[0] == "w150"


@pytest.mark.parametrize(
    ("chunk_words", "overlap_words"),
    [(10, 10), (10, 11), (0, 0), (10, -1)],
)
def test_invalid_window_sizes_are_rejected(chunk_words: int, overlap_words: int) -> None:
    with pytest.raises(ValueError, match="chunk_words must be greater than overlap_words"):
        chunk_sections(
            [Section(text="x", page=None, heading="")],
            "a.txt",
            chunk_words=chunk_words,
            overlap_words=overlap_words,
        )
