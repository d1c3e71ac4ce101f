"""The prompt: numbered sources that fit the context window, then the question."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from appliance.answer.retrieve import Citation

SYSTEM = (
    "You answer questions for the staff of an organisation using only the numbered sources "
    "given. Cite the sources you use with their numbers in square brackets, like [1]. "
    "If the sources do not contain the answer, say that you could not find it in the "
    "documents. Be brief."
)


def source_block(c: Citation) -> str:
    where = c.source + (f", page {c.page}" if c.page else "")
    heading = f" ({c.heading})" if c.heading else ""
    return f"[{c.number}] {where}{heading}:\n{c.text}"


def build_messages(
    question: str,
    citations: Sequence[Citation],
    budget_tokens: int,
    count_tokens: Callable[[str], int],
) -> tuple[list[dict], list[Citation]]:
    """Chat messages holding as many sources, best first, as fit in budget_tokens."""
    fixed = count_tokens(SYSTEM) + count_tokens(question) + 32
    used, blocks, spent = [], [], fixed
    for c in citations:
        block = source_block(c)
        cost = count_tokens(block) + 2
        if spent + cost > budget_tokens:
            break
        used.append(c)
        blocks.append(block)
        spent += cost
    user = "Sources:\n\n" + "\n\n".join(blocks) + f"\n\nQuestion: {question}"
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}], used
