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


def search_sources(client, question: str, k: int) -> list[str]:
    """The files of the passages /api/search finds for `question`, best first."""
    response = client.get("/api/search", query_string={"q": question, "k": k})
    assert response.status_code == 200, response.get_json()
    return [c["source"] for c in response.get_json()["citations"]]


def test_the_record_holding_an_identifier_comes_first(make_app):
    documents, facts = records()
    client = make_app(documents=documents).test_client()

    def first(question: str) -> str:
        return search_sources(client, question, 5)[0]

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


MAN_PAGES = {
    "de/tr.1.txt": (
        "TR(1)\n\nNAME\n tr - Zeichen umwandeln oder löschen\n\nÜBERSICHT\n tr [OPTION]… MENGE1 "
        "[MENGE2]\n\nBESCHREIBUNG\n Ersetzt, komprimiert und/oder löscht Zeichen aus der "
        "Standardeingabe und schreibt sie in die Standardausgabe.\n -d, --delete  Zeichen in "
        "MENGE1 löschen, nicht ersetzen\n -s, --squeeze-repeats  jede Folge eines wiederholten "
        "Zeichens durch ein einzelnes ersetzen\n"
    ),
    "de/sed.1.txt": (
        "SED(1)\n\nNAME\n sed - ein Datenstrom-Editor zum Filtern und Umwandeln von Text\n\n"
        "BESCHREIBUNG\n Mit sed entfernen Sie bestimmte Zeichen aus einer Datei, zum Beispiel "
        "die Wagenrückläufe einer Windows-Datei: sed -i 's/\\r$//' datei. Ähnliches leisten "
        "tr und dos2unix.\n"
    ),
    "de/dos2unix.1.txt": (
        "DOS2UNIX(1)\n\nNAME\n dos2unix - Zeilenumbrüche einer Windows-Datei umwandeln\n\n"
        "BESCHREIBUNG\n Entfernt die Wagenrückläufe aus Dateien, die unter Windows geschrieben "
        "wurden, und schreibt die Datei an Ort und Stelle neu.\n"
    ),
    "en/copy.txt": "copy — shallow and deep copy operations on compound objects.\n",
    "en/shutil.txt": (
        "shutil.copytree(src, dst) recursively copies an entire directory tree: the folder "
        "with all its contents, files and subfolders. To copy a single file, use "
        "shutil.copy2, which also keeps its metadata.\n"
    ),
    "en/pathlib.txt": "Path.copy() copies this file or folder to a target, as shutil does.\n",
    "en/dict.txt": "To change a dict while you loop over it, loop over a copy of its keys.\n",
    "en/git.txt": "git clone makes a full copy of a repository, with all its history.\n",
    "en/backup.txt": "A backup is a copy of your folders kept on another disk.\n",
}


def test_a_plain_word_naming_a_command_finds_its_page_first(make_app):
    """German and French questions name a command as a plain word ("mit tr", "avec ps").
    Its page comes first when the candidates use the word largely there; a common word
    that happens to be a file's name ("copy" and copy.txt) moves nothing."""
    client = make_app(documents=MAN_PAGES).test_client()

    def sources(question: str) -> list[str]:
        return search_sources(client, question, 3)

    question = "Wie entferne ich mit tr bestimmte Zeichen aus einer Datei, etwa Wagenrückläufe?"
    assert sources(question)[0] == "de/tr.1.txt"
    assert sources(question.replace("mit tr ", ""))[0] != "de/tr.1.txt"  # the name did it
    assert sources("How do I copy a folder with all its contents?")[0] == "en/shutil.txt"


SCP_PAGES = {
    "de/scp.1.txt": (
        "SCP(1)\n\nNAME\n scp - sicheres Kopieren von Dateien\n\nBESCHREIBUNG\n scp kopiert "
        "Dateien zwischen Rechnern im Netz.\n -r  Kopiert ganze Verzeichnisse rekursiv.\n"
    ),
    "ja/rsync.1.txt": (
        "RSYNC(1)\n\n名前\n rsync - 高速なファイルコピーツール\n\n説明\n rsync は scp "
        "の代わりに使えます。scp と違い、差分だけをリモートへ送ります。ディレクトリを丸ごと"
        "コピーするには -a を付けます。\n"
    ),
    "ja/ssh.1.txt": (
        "SSH(1)\n\n名前\n ssh - リモートログインプログラム\n\n説明\n ssh はリモートの"
        "マシンにログインします。ファイルのコピーには scp や sftp を使います。\n"
    ),
    "ja/cp.1.txt": (
        "CP(1)\n\n名前\n cp - ファイルとディレクトリをコピーする\n\n説明\n -r  ディレクトリを"
        "再帰的にコピーする。\n"
    ),
}


def test_a_file_the_question_names_is_found_even_when_the_search_missed_it(make_app):
    """A Japanese question about scp, where kb/ has scp's page only in German: the pages that
    merely mention scp rank above it, deeper than the candidates; it comes first anyway."""
    client = make_app(documents=SCP_PAGES, index__candidates=2).test_client()

    def sources(question: str) -> list[str]:
        return search_sources(client, question, 2)

    assert (
        sources("scp でディレクトリを丸ごと再帰的にリモートへコピーするには？")[0] == "de/scp.1.txt"
    )
    assert "de/scp.1.txt" not in sources("ディレクトリを丸ごと再帰的にリモートへコピーするには？")


DD_PAGES = {
    "zh/dd.1.txt": (
        "DD(1)\n\n名称\n dd - 转换和复制文件\n\n描述\n 向正在运行的 dd 进程发送 USR1 信号，它会"
        "把 I/O 统计信息打印到标准错误。status=progress 定期显示复制的进度。\n"
    ),
    "ja/dd.1.txt": "DD(1)\n\n名前\n dd - 変換してコピーする\n\n説明\n USR1 で統計を出す。\n",
    "ja/cp.1.txt": (
        "CP(1)\n\n名前\n cp - ファイルをコピーする\n\n説明\n ディスクの中身をコピーしている最中に"
        "どこまで進んだかを見たいときは、dd ではなく rsync の --progress を使うと定期的に"
        "表示されます。\n"
    ),
    "ja/rsync.1.txt": (
        "RSYNC(1)\n\n名前\n rsync - ファイルをコピーする\n\n説明\n --progress を付けると、"
        "コピーしている最中にどこまで進んだかを定期的に表示します。dd より速いです。\n"
    ),
    "ja/pv.1.txt": (
        "PV(1)\n\n名前\n pv - パイプの進み具合を表示する\n\n説明\n dd でディスクをコピーしている"
        "最中に pv を挟むと、どこまで進んだかを定期的に表示します。\n"
    ),
    "ja/advcp.1.txt": (
        "ADVCP(1)\n\n名前\n advcp - 進み具合を表示するコピー\n\n説明\n 実行中の cp や "
        "dd がどこまで進んだかを定期的に表示します。\n"
    ),
}


def test_a_named_file_comes_in_the_question_s_language(make_app):
    """kb/ holds dd's page in Chinese and in Japanese; the search ranks the Chinese one
    (it says status=progress) and Japanese pages that mention dd above the Japanese dd page.
    A Japanese question about dd gets dd's Japanese page first, a Chinese one the Chinese."""
    client = make_app(documents=DD_PAGES, index__candidates=2).test_client()

    def sources(question: str) -> list[str]:
        return search_sources(client, question, 2)

    question = "dd に status=progress を付けると、何が表示されますか？"
    assert sources(question)[0] == "ja/dd.1.txt"
    assert sources("dd 复制的时候怎么定期显示进度？")[0] == "zh/dd.1.txt"
