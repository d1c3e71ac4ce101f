import itertools

import pytest

from appliance.documents import Chunk, Section, chunk_sections
from appliance.documents.chunker import rough_prefix, rough_token_counts


def one_each(pieces):
    """A token counter that makes each piece (word) one token: windows count words."""
    return [1] * len(pieces)


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
    chunks = chunk_sections([section], "a.txt", count=one_each, chunk_tokens=40, overlap_tokens=10)
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
    chunks = chunk_sections([section], "a.txt", count=one_each, chunk_tokens=10, overlap_tokens=0)
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
    chunks = chunk_sections([section], "a.txt", count=one_each, chunk_tokens=40, overlap_tokens=5)
    first = chunks[0].text.split()
    assert first[-1] == "w36."
    assert chunks[1].text.split()[0] == "w32"  # 37 words, minus the 5-word overlap


def test_sentence_end_early_in_the_window_is_ignored() -> None:
    words = numbered_words(100).split()
    words[5] += "."
    section = Section(text=" ".join(words), page=None, heading="")
    chunks = chunk_sections([section], "a.txt", count=one_each, chunk_tokens=40, overlap_tokens=5)
    assert len(chunks[0].text.split()) == 40


def test_chunks_never_span_sections_and_keep_each_page() -> None:
    sections = [
        Section(text=numbered_words(30, "p1_"), page=1, heading=""),
        Section(text="tiny page two", page=2, heading=""),
        Section(text=numbered_words(30, "p3_"), page=3, heading="Appendix"),
    ]
    chunks = chunk_sections(
        sections, "manual.pdf", count=one_each, chunk_tokens=20, overlap_tokens=5
    )
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


def test_default_sizes_cap_chunks_at_200_tokens() -> None:
    chunks = chunk_sections([Section(text=numbered_words(500), page=None, heading="")], "a.txt")
    assert max(len(c.text.split()) for c in chunks) == 200  # "w123": one rough token
    assert chunks[1].text.split()[0] == "w170"


@pytest.mark.parametrize(
    ("chunk_tokens", "overlap_tokens"),
    [(10, 10), (10, 11), (0, 0), (10, -1)],
)
def test_invalid_window_sizes_are_rejected(chunk_tokens: int, overlap_tokens: int) -> None:
    with pytest.raises(ValueError, match="chunk_tokens must be greater than overlap_tokens"):
        chunk_sections(
            [Section(text="x", page=None, heading="")],
            "a.txt",
            chunk_tokens=chunk_tokens,
            overlap_tokens=overlap_tokens,
        )


def test_chinese_and_japanese_get_chunks_of_the_same_size_as_english() -> None:
    """Text without spaces is cut by characters: 600 characters of Chinese at 200 tokens
    make several chunks, not one chunk of 600 (that the embedder would truncate)."""
    sentence = "使用tar命令可以把整个目录打包成一个归档文件。"  # 24 characters, "tar" one token
    text = sentence * 25
    chunks = chunk_sections([Section(text=text, page=None, heading="")], "zh.txt")
    sizes = [sum(rough_token_counts(_cjk_pieces(c.text))) for c in chunks]
    assert len(chunks) >= 3 and max(sizes) <= 200, sizes
    # No space is put between characters, and windows end at a "。".
    assert all(c.text.endswith("。") for c in chunks[:-1])
    assert " " not in "".join(c.text for c in chunks)
    # Overlapping windows together hold the whole text.
    assert chunks[0].text.startswith(sentence) and chunks[-1].text.endswith(sentence)
    japanese = "ディレクトリを再帰的にコピーするには-rオプションを使います。" * 30
    ja_chunks = chunk_sections([Section(text=japanese, page=None, heading="")], "ja.txt")
    assert len(ja_chunks) >= 4


def test_mixed_scripts_keep_their_spaces() -> None:
    text = "运行 apt-get update 更新软件包列表。\nThen run apt-get upgrade."
    (chunk,) = chunk_sections([Section(text=text, page=None, heading="")], "mixed.txt")
    assert chunk.text == text


def test_windows_are_measured_with_the_given_token_counter() -> None:
    """A word the counter calls 10 tokens fills a 40-token window 4 times faster."""
    text = " ".join(["long"] * 20 + ["w"] * 20)
    chunks = chunk_sections(
        [Section(text=text, page=None, heading="")],
        "a.txt",
        chunk_tokens=40,
        overlap_tokens=0,
        count=lambda pieces: [10 if p == "long" else 1 for p in pieces],
    )
    assert [c.text.split().count("long") for c in chunks[:5]] == [4, 4, 4, 4, 4]
    assert chunks[5].text.split() == ["w"] * 20


def test_a_run_without_spaces_longer_than_a_window_is_one_chunk() -> None:
    """5 MB of minified data on one line is one chunk (the embedder reads its start), not
    thousands of chunks of noise to embed."""
    blob = "A" * 5000
    text = f"before it. {blob} after it."
    chunks = chunk_sections([Section(text=text, page=None, heading="")], "blob.txt")
    assert [c.text for c in chunks] == ["before it.", blob, "after it."]


def _cjk_pieces(text: str) -> list[str]:
    from appliance.documents.chunker import _pieces

    return _pieces(text)[0]


def test_a_rough_prefix_holds_about_so_many_tokens_in_any_script() -> None:
    """What an embedder that tokenizes by itself is given: never the whole of a 5 MB line."""
    assert rough_prefix("x" * (5 << 20), 512) == "x" * 2560
    assert rough_prefix("中文" * 1000, 5) == "中文中文中"
    assert rough_prefix("hello world 中文 more", 3) == "hello world "
    assert rough_prefix("short text", 512) == "short text"


def test_table_rows_are_never_cut_apart() -> None:
    """A sheet's chunk ended at "Approval needed:" and the next began with "No", quoted on
    its own (a QA pass): rows are cut at their ends, and a window starts at a row's start."""
    from appliance.documents.tabular import table_sections

    rows = [(1, ["Item", "Price (EUR)", "Lead time", "Approval needed"])]
    rows += [
        (
            n,
            [
                f"Model {n} developer laptop",
                1000 + n,
                f"{n} working days",
                "No" if n % 2 else "Yes",
            ],
        )
        for n in range(2, 30)
    ]
    sections = table_sections(rows, "prices")
    lines = set(sections[0].text.splitlines())
    chunks = chunk_sections(sections, "prices.xlsx", chunk_tokens=80, overlap_tokens=30)
    assert len(chunks) > 5
    for chunk in chunks:
        assert set(chunk.text.split("\n")) <= lines, chunk.text  # whole rows only
    assert any(  # and windows still overlap, by whole rows
        set(a.text.split("\n")) & set(b.text.split("\n")) for a, b in itertools.pairwise(chunks)
    )
    # Cells joined by " | " (Word, HTML) are rows too.
    table = "\n".join(
        f"Week {n} | 2025-0{n % 9 + 1}-10 | Priya Natarajan | Tom Fletcher" for n in range(1, 20)
    )
    cut = chunk_sections([Section(table, None, "rota")], "rota.docx", 40, 10)
    assert all(c.text.startswith("Week ") and c.text.endswith("Fletcher") for c in cut)
