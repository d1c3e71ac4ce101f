"""Extractive answers: passages cut into sentences, list items and table rows (English and
Chinese), and the units that answer the question quoted verbatim with their citation, using
the real BM25 tokenizer of the index."""

from __future__ import annotations

import pytest

from appliance.answer.extractive import extract
from appliance.answer.retrieve import Citation
from appliance.answer.sentences import ITEM, ROW, SENTENCE, split_sentences, units
from appliance.config import load_settings
from appliance.documents import Section, chunk_sections
from appliance.index.embedder import Embedder


@pytest.fixture(scope="module")
def terms(models_dir):
    settings = load_settings(None, env={})
    return Embedder(settings.embedder, models_dir / "embedder").terms


def passage(number: int, text: str, source: str = "", page: int | None = None) -> Citation:
    return Citation(number, source or f"doc{number}.md", 0, page, "", 0.5, 0.5, text[:40], text)


def test_sentences_end_at_latin_and_cjk_punctuation_but_not_at_abbreviations():
    text = (
        "Leave is 25 days, e.g. for holidays. See Dr. Smith in room 3.11 first! "
        "Python 3.11 added tomllib. 员工每年享有二十五天带薪年假。兼职员工按比例计算；"
        "问题？是的"
    )
    assert split_sentences(text) == [
        "Leave is 25 days, e.g. for holidays.",
        "See Dr. Smith in room 3.11 first!",
        "Python 3.11 added tomllib.",
        "员工每年享有二十五天带薪年假。",
        "兼职员工按比例计算；",
        "问题？",
        "是的",
    ]
    # Not within bold: a FAQ's question was quoted as "**Q: My account is locked." and
    # "What now?**" (a QA pass). A stray ** leaves the sentences as they are.
    faq = "**Q: My account is locked. What now?** Wait 15 minutes. Then try again."
    assert split_sentences(faq) == [
        "**Q: My account is locked. What now?**",
        "Wait 15 minutes.",
        "Then try again.",
    ]
    assert split_sentences("Use **bold. It works. Fine.") == ["Use **bold.", "It works.", "Fine."]


def test_lists_and_tables_are_units_of_their_own_and_keep_their_block():
    section = Section(
        "You can drop these files into the folder:\n- PDF files\n- Word documents (.docx)\n"
        "- Plain text\n\nname | days\nAlice | 25\nBob | 20\n\n"
        "unit: U-1; part: ZX-339563; fits: pump\n"
        "unit: U-2; part: ZX-100200; fits: valve\n\n"
        "A PDF line broken\nin the middle of a sentence. 中文行\n被折断了。",
        None,
        "",
    )
    (chunk,) = chunk_sections([section], "a.md")  # chunks keep their lines
    found = units(chunk.text)
    assert [(u.kind, u.text) for u in found] == [
        (SENTENCE, "You can drop these files into the folder:"),
        (ITEM, "- PDF files"),
        (ITEM, "- Word documents (.docx)"),
        (ITEM, "- Plain text"),
        (ROW, "name | days"),
        (ROW, "Alice | 25"),
        (ROW, "Bob | 20"),
        (ROW, "unit: U-1; part: ZX-339563; fits: pump"),
        (ROW, "unit: U-2; part: ZX-100200; fits: valve"),
        (SENTENCE, "A PDF line broken in the middle of a sentence."),
        (SENTENCE, "中文行被折断了。"),
    ]
    assert len({u.block for u in found if u.kind == ITEM}) == 1


def test_table_rows_a_paragraph_each_are_still_one_table():
    found = units("Tools:\n\nname | use\n\nvalgrind | memory\n\nduma | overruns\n\nDone.")
    rows = [u for u in found if u.kind == ROW]
    assert len(rows) == 3 and len({u.block for u in rows}) == 1


def test_the_answering_sentence_is_quoted_verbatim_with_its_citation(terms):
    passages = [
        passage(
            1,
            "Travel expenses\n\nTrain tickets are refunded in second class. Hotel nights are "
            "refunded up to 120 euros. Claims must be filed within 30 days.",
            "hr/expenses.pdf",
            page=4,
        ),
        passage(2, "Annual leave\n\nFull-time staff get 25 days of annual leave per year."),
    ]
    found = extract("Up to how much is a hotel night refunded?", passages, terms)
    assert "“Hotel nights are refunded up to 120 euros.” [1]" in found.text
    assert "hr/expenses.pdf, page 4" in found.text
    assert "25 days" not in found.text
    assert found.coverage > 0.5


def test_a_list_item_brings_its_list_and_lead_in(terms):
    text = (
        "Welcome\n\nDocuments you drop into the kb folder are indexed within seconds.\n\n"
        "Which files can be dropped:\n- PDF documents\n- Word files (.docx)\n- Excel sheets\n\n"
        "Questions are answered on the local page."
    )
    found = extract("Which file types can I drop into the folder?", [passage(1, text)], terms)
    for line in ("Which files can be dropped:", "- PDF documents", "- Excel sheets"):
        assert line in found.text
    assert found.text.count("[1]") == 1


def test_chinese_questions_find_chinese_sentences(terms):
    text = (
        "年假政策\n\n全职员工每年享有二十五天带薪年假。兼职员工的年假按工作小时比例计算。"
        "差旅报销须在三十天内提交。"
    )
    found = extract("兼职员工的年假怎么计算？", [passage(1, text)], terms)
    assert "“兼职员工的年假按工作小时比例计算。” [1]" in found.text
    assert "差旅报销" not in found.text


def test_a_sentence_brings_the_command_that_follows_it(terms):
    text = (
        "Debian 通过命令“/usr/bin/editor”提供了对系统默认编辑器的统一访问。\n"
        "你可以通过下列命令改变它。\n\n$ sudo update-alternatives --config editor\n\n"
        "对于新手，我建议使用“/usr/bin/vim.basic”。"
    )
    found = extract("系统默认编辑器怎么改？", [passage(1, text)], terms)
    assert "“$ sudo update-alternatives --config editor”" in found.text
    assert "vim.basic" not in found.text  # what follows the command stays out


def test_a_faq_question_brings_its_answer(terms):
    """A FAQ's question restates the user's and scores best; its answer follows it, up to the
    next question. Markdown's emphasis stays with the sentence it closes."""
    faq = (
        "**Q: How do I reset my password?**\n\n"
        "A: Go to https://pw.example.lan and click Forgot password; the new password must be "
        "14 characters long.\n\n"
        "**Q: Who do I call when the network is down?**\n\n"
        "A: Call the NOC on extension 4999, day and night."
    )
    assert [u.text for u in units(faq)][:2] == [
        "**Q: How do I reset my password?**",
        "A: Go to https://pw.example.lan and click Forgot password; the new password must be "
        "14 characters long.",
    ]
    found = extract("How do I reset my password?", [passage(1, faq)], terms)
    assert "https://pw.example.lan" in found.text
    assert "4999" not in found.text  # the next question's answer stays out
    data = "faq[0].q: Where is the first-aid kit?\nfaq[0].a: Behind the reception desk."
    found = extract("Where is the first-aid kit?", [passage(1, data)], terms)
    assert "Behind the reception desk" in found.text
    chinese = (
        "问：打印机卡纸怎么办？\n答：打开二号纸盒，拉下绿色拉杆。\n问：怎么加墨？\n答：找行政部。"
    )
    found = extract("打印机卡纸了怎么办？", [passage(1, chinese)], terms)
    assert "拉下绿色拉杆" in found.text and "行政部" not in found.text


def test_nothing_that_shares_a_term_with_the_question_gives_no_answer(terms):
    found = extract(
        "How do I configure the VPN client?",
        [passage(1, "Full-time staff get 25 days of annual leave per year.")],
        terms,
    )
    assert found.text == "" and found.coverage == 0


def test_a_sentence_under_a_signature_brings_the_signature(terms):
    text = (
        "textwrap.dedent(text)\n\nRemove any common leading whitespace from every line in text. "
        "Tabs and spaces are both treated as whitespace. This can be used to make "
        "triple-quoted strings line up with the left edge of the display.\n\n"
        "textwrap.indent(text, prefix)\n\nAdd prefix to the beginning of selected lines."
    )
    found = extract("How do I make triple-quoted strings line up?", [passage(1, text)], terms)
    assert "“textwrap.dedent(text)”" in found.text
    assert "line up with the left edge" in found.text
    assert "textwrap.indent" not in found.text  # the next entry's signature is not its own


def test_a_sentence_that_announces_a_configuration_brings_it(terms):
    text = (
        "A static network configuration is set by creating "
        '"/etc/systemd/network/static.network" as follows:\n\n'
        "[Match]\nName=en*\n\n[Network]\nAddress=192.168.0.15/24\nGateway=192.168.0.1\n\n"
        "The interface is configured when systemd-networkd starts."
    )
    found = extract("How do I set a static network configuration?", [passage(1, text)], terms)
    assert "Address=192.168.0.15/24" in found.text
    assert "systemd-networkd starts" not in found.text  # prose after the lines stays out


def test_a_long_list_never_crowds_out_a_better_quote(terms):
    served = "roast chicken with rice, a green salad, bread and a fruit dessert"
    dishes = [f"- dish {n}: {served}" for n in range(12)]
    dishes[0] = "- vegetarian menu: lentil curry with rice, a green salad and a dessert"
    passages = [
        passage(1, "The canteen serves these dishes:\n" + "\n".join(dishes)),
        passage(2, "The vegetarian menu changes every Monday."),
    ]
    found = extract("When does the vegetarian menu change?", passages, terms)
    assert "- vegetarian menu: lentil curry" in found.text  # a good quote, with its list
    assert "“The vegetarian menu changes every Monday.” [2]" in found.text


def test_of_two_equal_sentences_the_one_naming_what_to_call_is_quoted_first(terms):
    text = (
        "A random unique identifier is easy to generate. "
        "To generate a random unique identifier, call uuid4()."
    )
    found = extract("How do I generate a random unique identifier?", [passage(1, text)], terms)
    best = max(found.scored, key=lambda q: q.score)
    assert best.unit.text == "To generate a random unique identifier, call uuid4()."


def test_a_sentence_before_a_captioned_table_brings_the_table(terms):
    text = (
        "Debian 上有一些可用的内存泄漏检测工具。\n\n表 12.15.\n\n内存泄漏检测工具的列表\n\n"
        "软件包 | 说明\n\nvalgrind | 内存调试器和分析器\n\nelectric-fence | malloc 调试器\n\n"
        "这些工具都在 main 区。"
    )
    found = extract("Debian 上有什么内存泄漏检测工具？", [passage(1, text)], terms)
    assert "“Debian 上有一些可用的内存泄漏检测工具。”" in found.text
    assert "- valgrind | 内存调试器和分析器" in found.text
    assert "main 区" not in found.text


def test_a_quoted_title_brings_the_sentences_under_it(terms):
    text = (
        "HOST NOTE WEB-PROD-70\n\nOwned by the Data Platform team. Patched on Sundays.\n\n"
        "HOST NOTE WEB-PROD-71"
    )
    found = extract("host note web-prod-70", [passage(1, text)], terms)
    assert "“HOST NOTE WEB-PROD-70”" in found.text
    assert "Owned by the Data Platform team." in found.text
    assert "Patched on Sundays." in found.text


def test_asked_about_a_ticket_only_the_passages_holding_it_are_quoted(terms):
    passages = [
        passage(n, f"INC-2023-0{n}\n\nThe nightly export of shop {n} failed.")
        for n in (2685, 2684, 2686)
    ]
    found = extract("Summarise INC-2023-02684", passages, terms)
    assert {q.number for q in found.quotes} == {2684}
    assert "The nightly export of shop 2684 failed." in found.text


def test_a_section_holds_the_ticket_its_title_names(terms):
    """The sections of "INC-2023-02684: sso-bridge outage" do not repeat the ticket, but
    their heading names it: they hold it, their neighbours' sections do not."""
    passages = [
        Citation(
            n,
            f"INC-2023-0{n}.md",
            1,
            None,
            f"INC-2023-0{n}: outage > Symptoms",
            0.3,
            0.3,
            "",
            f"The outage stopped logins to shop {n} for an hour.",
        )
        for n in (2685, 2684)
    ]
    found = extract("Summarise the outage INC-2023-02684", passages, terms)
    assert found.holding == {2684}
    assert "logins to shop 2684" in found.text and "2685" not in found.text


def test_a_table_cut_by_the_chunk_end_goes_on_into_the_next_chunk(terms):
    """Chunks end where their size does, not where a table does: the rows of a quoted table
    that the next chunk holds come with it (chunks overlap, and no row comes twice)."""
    head = (
        "gpg 的加密命令如下表所示。\n\n"
        "gpg -o crypt_file.gpg -r name -e file | 公钥加密，生成二进制的 crypt_file.gpg\n\n"
        "gpg -o crypt_file.asc -a -r name -e file | 公钥加密，生成 ASCII 封装的 crypt_file.asc"
    )
    after = (
        "gpg -o crypt_file.asc -a -r name -e file | 公钥加密，生成 ASCII 封装的 crypt_file.asc\n\n"
        "gpg -o crypt_file.gpg --symmetric file | 将文件对称加密到 crypt_file.gpg\n\n"
        "第 10 章 数据管理\n\n备份和恢复是系统管理中很重要的一部分。"
    )
    question = "gpg 怎么加密文件？"
    alone = extract(question, [passage(1, head)], terms)
    assert "--symmetric" not in alone.text
    found = extract(question, [passage(1, head)], terms, {1: after})
    assert "gpg -o crypt_file.gpg --symmetric file" in found.text
    assert found.text.count("crypt_file.asc -a -r name") == 1
    assert "备份和恢复" not in found.text  # the prose after the table is not the table's
    assert (found.coverage, found.passage_coverage) == (alone.coverage, alone.passage_coverage)


def test_the_next_chunk_is_never_quoted_for_itself(terms):
    """What the next chunk says is not what the search found: a sentence there is quoted
    only as what a quote needs, however well it matches."""
    found = extract(
        "How many days of annual leave do staff get?",
        [passage(1, "Annual leave is planned with your team lead.")],
        terms,
        {1: "Full-time staff get 25 days of annual leave a year."},
    )
    assert "planned with your team lead" in found.text and "25 days" not in found.text


def test_a_sentence_found_whole_and_from_its_middle_is_quoted_once_whole(terms):
    """Chunks overlap: the next passage may begin in the middle of a sentence that the one
    before holds whole. The sentence is quoted once, whole, whichever scores first."""
    whole = "Boot messages\n\nRemove quiet from the kernel command line to see the boot messages."
    middle = "from the kernel command line to see the boot messages. Reboot afterwards."
    for passages in (
        [passage(1, middle), passage(2, whole)],
        [passage(1, whole), passage(2, middle)],
    ):
        found = extract("How do I see the kernel boot messages?", passages, terms)
        assert found.text.count("to see the boot messages") == 1, found.text
        assert "“Remove quiet from the kernel command line to see the boot messages.”" in found.text


def test_a_question_not_in_english_also_finds_a_unit_that_says_it_in_other_words(models_dir):
    """No unit shares a term with the question: by its words alone nothing is quoted; by
    meaning (the multilingual embedder's cosine) the one that answers comes first."""
    settings = load_settings(None, env={}, overrides={"paths.models": str(models_dir)})
    both = Embedder(settings.embedder, settings.embedder_dir, settings.multilingual_embedder)
    question = "怎样把整个目录连同里面的东西一起复制？"
    texts = [
        "打印机在三楼，型号是 HP LaserJet。",
        "年假每年二十五天，需要提前申请。",
        "使用 cp -r 可以递归地拷贝文件夹及其全部内容。",
    ]
    passages = [passage(n, text) for n, text in enumerate(texts, 1)]
    language = both.question_languages(question)[:1]

    def words(text: str) -> set[int]:
        return both.terms(text, language)

    assert extract(question, passages, words).text == ""
    by_meaning = extract(
        question, passages, words, similarity=lambda t: both.multilingual_similarity(question, t)
    )
    assert by_meaning.quotes[0].unit.text == texts[2] and "[3]" in by_meaning.text
    # In English the first embedder alone searches, and quotes go by words as before.
    assert both.multilingual_similarity("How do I copy a folder?", texts) is None


def test_further_passages_are_quoted_from_but_not_judged(terms):
    """Passages past `judged` (more of the file a question names) may be quoted, but the
    coverage the answerability gate reads is that of the search's own passages."""
    question = "Up to how much is a hotel night refunded?"
    searched = passage(1, "Travel expenses are reimbursed within 30 days.")
    further = passage(2, "Hotel nights are refunded up to 120 euros.")
    alone = extract(question, [searched], terms)
    found = extract(question, [searched, further], terms, judged=1)
    assert "“Hotel nights are refunded up to 120 euros.” [2]" in found.text
    assert (found.coverage, found.passage_coverage) == (alone.coverage, alone.passage_coverage)
    judged_too = extract(question, [searched, further], terms)
    assert judged_too.coverage > found.coverage
