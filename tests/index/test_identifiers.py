import pytest

from appliance.index.identifiers import (
    about_their_file,
    exact_first,
    file_words,
    holds,
    holds_version,
    identifiers,
    in_question_order,
    iso_dates,
    named_first,
    names,
    proper_names,
    spellings,
    versions,
)


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("Which unit does part ZX-339563 fit?", ["ZX-339563"]),
        ("secret code of unit0250", ["unit0250"]),
        ("difference between re.match and re.search?", ["re.match", "re.search"]),
        ("what went wrong in INC-2024-00417", ["INC-2024-00417"]),
        ("where is backup_2024-03-17.tar.gz kept", ["backup_2024-03-17.tar.gz"]),
        ("is db-prod-07.corp.example up", ["db-prod-07.corp.example"]),
        ("what does E0x7F3A mean", ["E0x7F3A"]),
        ("edit /etc/sudoers safely", ["/etc/sudoers"]),
        ("why a TypeError here", ["TypeError"]),
        ("零件ZX-339563适用于哪台设备？", ["ZX-339563"]),  # ends where the Chinese begins
        ("Wer hat die Fußball-WM gewonnen? Größe XL0815?", ["XL0815"]),  # not ball-WM
        ("Fehler E0x7F3A in Straße-7", ["E0x7F3A"]),
        # Plain words, hyphenated words, small numbers and abbreviations are not identifiers.
        ("How many days of annual leave, e.g. 25?", []),
        ("Is it a built-in, read-only setting?", []),
        ("Thread-safe queue? Command-line flags?", []),  # capitals of a sentence's start
        ("Why does round(2.5) give 2 and not 3?", []),
        ("笔记本上怎么切换到第 3 个控制台", []),
    ],
)
def test_identifiers_in_questions(question, expected):
    assert identifiers(question) == expected


def test_an_identifier_is_held_only_whole():
    assert holds("Part ZX-339563 fits unit0250.", "zx-339563")
    assert holds("It fits unit0250.", "unit0250")  # a sentence may end after it
    assert holds("零件ZX-339563适用", "ZX-339563")
    assert not holds("unit02501", "unit0250")
    assert not holds("see ZX-3395630", "ZX-339563")
    assert not holds("release v2.14.30", "v2.14.3")
    assert not holds("xunit0250", "unit0250")


def test_a_version_is_named_by_any_release_of_it():
    """A question about R 4.2 is answered by the manual of R 4.2.2; not by 4.20 or 14.2."""
    for text in ["R 4.2.2", "releases 4.2.x", "R-4.2.2patched-win.exe", "v4.2", "R 4.2."]:
        assert holds_version(text, "4.2"), text
    for text in ["R 4.20", "R 14.2", "R 4.3.1"]:
        assert not holds_version(text, "4.2"), text
    assert holds_version("Debian 12.4 (bookworm)", "Debian 12")
    assert not holds_version("Debian 123", "Debian 12")
    assert not holds_version("release v2.14.30", "v2.14.3")


def test_passages_holding_the_identifier_come_first_in_their_order():
    texts = ["a about parts", "b ZX-1234 fits", "c parts again", "d ZX-1234 and ZX-99 here"]
    ordered = exact_first(texts, ["ZX-1234", "ZX-99"], lambda t: t)
    assert ordered == [
        "d ZX-1234 and ZX-99 here",
        "b ZX-1234 fits",
        "a about parts",
        "c parts again",
    ]


def test_an_identifier_most_passages_hold_changes_nothing():
    texts = ["x v1.2 one", "y v1.2 two", "z three"]
    assert exact_first(texts, ["v1.2"], lambda t: t) == texts
    assert exact_first(texts, [], lambda t: t) == texts


def test_identifier_terms_keep_the_numbers_bm25_drops():
    from appliance.index.identifiers import identifier_terms

    a, b = identifier_terms("part ZX-339563"), identifier_terms("part ZX-439563")
    assert a and b and not set(a) & set(b)
    # The number alone finds the part too, and v2.14.3 is not v2.14.30.
    assert set(identifier_terms("339563")) < set(a)
    assert not set(identifier_terms("v2.14.3")) & set(identifier_terms("v2.14.30"))
    assert (
        identifier_terms("unit0250 unit0250 and unit0250")[next(iter(identifier_terms("unit0250")))]
        == 3
    )
    assert not identifier_terms("annual leave is 25 days")


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("Send mail over SMTP with STARTTLS using smtplib?", ["SMTP", "STARTTLS"]),
        ("How does typing.Protocol differ from an ABC?", ["typing.Protocol", "ABC"]),
        ("Which unit does part ZX-339563 fit?", ["ZX-339563"]),
        ("Arch Linux 上怎么用 pacman 清理孤立依赖包？", ["Arch", "Linux", "pacman"]),
        ("tar 解压 .tar.bz2 到指定目录", ["tar.bz2", "tar"]),
        # Values and words joined by hyphens are not names; nor is a plain word.
        ("Parse '2023-01-31 14:05' into a datetime", []),
        ("Was bewirkt das Sticky-Bit bei einem Verzeichnis?", []),
        ("Forward port 8080 to a scratch directory", []),
        ("Mount /dev/sdb1 by IP address", []),  # a path of one's own; a common abbreviation
    ],
)
def test_names_in_questions(question, expected):
    assert names(question) == expected


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("How does PEP 695 in Python 3.12 work?", ["3.12", "PEP 695"]),
        ("Which SQLite comes with Python 3.11 on Debian 12?", ["3.11", "Debian 12"]),
        ("anything still running v2.1.43?", ["v2.1.43"]),
        ("Debian 13 trixie 推荐用 deb822 格式吗？", ["Debian 13"]),  # a Chinese question's subject
        # A sentence's first words, an IP address, a plain number are no versions.
        ("Pick 3 distinct random elements from a list", []),
        ("Allow 192.168.1.0/24 on port 22", []),
        ("Keep logs for 30 days", []),
        # Dates are no versions: the rota says 2025-02-10 (was refused, "February 2025").
        ("Who is the escalation manager on 10 February 2025?", []),
        ("Wer hat im Juni 2024 Bereitschaft?", []),
        ("Who is on call in Week 3?", []),
    ],
)
def test_versions_in_questions(question, expected):
    assert versions(question) == expected


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("Who is on call in the week starting 20 January 2025?", ["2025-01-20"]),
        ("Who is the escalation manager on February 10, 2025?", ["2025-02-10"]),
        ("Wer hat am 10.02.2025 Bereitschaft? Und am 3. März 2025?", ["2025-03-03", "2025-02-10"]),
        ("2025年2月10日谁值班？", ["2025-02-10"]),
        ("Le 1er mai 2025", ["2025-05-01"]),
        # Already ISO, no year, not a date, a month that does not exist: nothing to add.
        ("Who is on call on 2025-01-20?", []),
        ("Is the office open on 1 May?", []),
        ("Python 3.11.2 on 31.13.2025", []),
    ],
)
def test_dates_in_words_are_also_searched_as_iso_dates(question, expected):
    assert iso_dates(question) == expected


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("What is the address of our Paris office?", ["Paris"]),
        ("How many days of leave do I get? And in Munich, with Excel?", ["Munich", "Excel"]),
        # A sentence's or a quote's first word, "I", a month or a day, Dr. are not names.
        ("Where is it? What did I say in May?", []),
        ('Is the "Weekly" report due on Monday?', []),
        ("Who is Dr. Smith?", []),
    ],
)
def test_proper_names_in_english_questions(question, expected):
    assert proper_names(question) == expected


def test_a_name_written_in_one_word_is_also_looked_for_in_two():
    """ "访客WiFi密码" was refused as naming something no document mentions: they say Wi-Fi."""
    assert spellings("WiFi") == ["WiFi", "Wi-Fi"]
    assert spellings("PowerShell") == ["PowerShell", "Power-Shell"]
    assert spellings("iPhone") == ["iPhone"]  # "i" and "Phone" would match any phone
    assert spellings("asyncio.Queue") == ["asyncio.Queue"]


def test_a_version_is_held_only_as_itself():
    assert holds("New in version 3.1.", "3.1")
    assert not holds("New in version 3.11.", "3.1")
    assert not holds("Changed in 13.1", "3.1")
    assert holds("on debian 12 (bookworm)", "Debian 12")


def test_the_best_passage_of_a_file_the_question_names_comes_first():
    hits = ["ja/ls.1.txt#3", "ja/cp.1.txt#1", "ja/mv.1.txt#0", "ja/cp.1.txt#4"]
    question = "ディレクトリを丸ごとコピーしたい。cp にはどのオプションを付ければいいですか？"
    ordered = named_first(hits, names(question), lambda h: h.split("#")[0])
    assert ordered == ["ja/cp.1.txt#1", "ja/ls.1.txt#3", "ja/mv.1.txt#0", "ja/cp.1.txt#4"]
    # A plain English question names nothing: the order stays.
    assert named_first(hits, names("How do I copy a folder with cp?"), lambda h: h) == hits


def test_of_two_named_files_the_one_named_first_comes_first():
    """The question's subject comes first, wherever the search ranked its file."""
    question = "scp soll sich mit einem SSH-Server verbinden. Wie gebe ich den Port an?"
    said = in_question_order(question, ["SSH", "scp"])
    assert said == ["scp", "SSH"]
    hits = ["de/ssh.1.txt#4", "de/scp.1.txt#2", "de/ssh.1.txt#9", "de/cp.1.txt#0"]
    ordered = named_first(hits, said, lambda h: h.split("#")[0])
    assert ordered == ["de/scp.1.txt#2", "de/ssh.1.txt#4", "de/ssh.1.txt#9", "de/cp.1.txt#0"]


STEMS = {"cp", "ps", "copy", "string", "tr", "ssh"}


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("Wie kopiere ich mit cp nur neuere Dateien?", ["cp"]),
        ("Avec ps, comment afficher les threads ? Et avec PS ?", ["ps"]),
        ("How do I copy a string?", ["copy", "string"]),
        ("Comment remplacer les espaces avec tr ?", ["tr"]),
        ("How do I strip whitespace?", []),
        ("Welche ssh-Option ist dafür gedacht?", ["ssh"]),  # a name joined to a noun
        ("Ist das Thread-safe?", []),
    ],
)
def test_words_of_a_question_that_name_an_indexed_file(question, expected):
    assert file_words(question, STEMS) == expected


def test_a_word_names_its_file_when_the_candidates_use_it_largely_there():
    hits = [  # (source, text): the candidates of one search
        ("de/find.1.txt", r"find … -exec cp {} /backup \;"),
        ("de/cp.1.txt", "cp kopiert Dateien und Verzeichnisse."),
        ("de/mv.1.txt", "mv verschiebt Dateien."),
        ("de/install.1.txt", "install kopiert Dateien wie cp und setzt Rechte."),
        ("de/cp.1.txt", "-u, --update: kopiert nur, wenn die Quelle neuer ist."),
    ]
    source, text = (lambda h: h[0]), (lambda h: h[1])
    assert about_their_file(["cp"], hits, source, text) == ["cp"]  # cp.1's 2 of the 4
    # A page of options seldom says its own name: its passages count all the same.
    options = [
        ("de/gzip.1.txt", "Wie ls zeigt gzip -l die Größe an."),
        ("de/ls.1.txt", "-S nach Dateigröße sortieren, die größte zuerst"),
    ]
    assert about_their_file(["ls"], options, source, text) == ["ls"]
    library = [("library/shutil.html", "Recursively copy an entire directory tree.")] * 4 + [
        ("library/stdtypes.html", "Return a shallow copy of the list."),
        ("library/copy.html", "Assignment statements do not copy objects."),
    ]
    assert about_their_file(["copy"], library, source, text) == []  # 1 of 6
    # A word no candidate says: the question asks about something they are not about.
    assert about_their_file(["tr"], library, source, text) == ["tr"]
