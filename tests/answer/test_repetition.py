"""The loop guard: an answer that starts repeating itself is cut where the loop begins."""

from __future__ import annotations

from appliance.answer.repetition import loop_start


def test_a_repeated_line_is_cut_after_its_first_copy():
    line = "- Drop files into the folder: https://example.com/file.txt\n"
    text = "You can drop files.\n" + line * 3
    assert text[: loop_start(text)] == "You can drop files.\n" + line


def test_numbered_repetitions_and_chinese_loops_are_caught():
    numbered = "Steps:\n" + "".join(f"{n}. Open the settings page.\n" for n in range(1, 4))
    assert loop_start(numbered) is not None
    chinese = "答案是：可以确定" + "，你可以确定" * 3
    assert chinese[: loop_start(chinese)] == "答案是：可以确定，你可以确定"


def test_a_loop_with_small_variations_is_caught():
    words = " ".join(
        f"the printer on floor {'three' if n % 2 else 'two'} needs toner and paper"
        for n in range(12)
    )
    assert loop_start(words) is not None


def test_ordinary_answers_and_tables_are_left_alone():
    answer = (
        "Full-time staff get 25 days of annual leave per year [1]. Part-time staff get leave "
        "pro rata, based on their hours [1]. Leave must be approved by a manager [2]."
    )
    table = "| a | b |\n|---|---|\n|---|---|\n|---|---|\n| 1 | 2 |"
    dots = "Wait for it......................... done"
    for text in (answer, table, dots, "ha ha ha", ""):
        assert loop_start(text) is None, text
