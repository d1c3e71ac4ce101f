"""Chat-template control markers, made harmless in untrusted text.

llama.cpp (in-process, or a llama.cpp/vLLM server behind the OpenAI backend) renders the
messages into one string and tokenizes it with special tokens on. A control marker inside a
document, a heading, a file name or a question would then become a real turn boundary: a
forged system message. So every message a generator sends has its markers replaced by
lookalikes: the generic patterns of the common model families below, plus, for a model loaded
in-process, every control token of that model's own vocabulary.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

GENERIC = (
    r"<\|[A-Za-z0-9_ .:/-]{0,48}\|>"  # ChatML, Llama-3, Phi, Command-R: <|im_start|>, <|eot_id|>
    r"|<｜[^｜<>\n]{0,48}｜>"  # DeepSeek's full-width bars: <｜User｜>, <｜end▁of▁sentence｜>
    r"|</?(?:s|bos|eos|pad|unk|think|tools?|tool_call|tool_response)>"
    r"|<(?:start|end)_of_turn>"  # Gemma
    r"|\[/?(?:INST|SYSTEM_PROMPT|TOOL_CALLS|AVAILABLE_TOOLS|TOOL_RESULTS|TOOL_CONTENT|THINK"
    r"|IMG|IMG_BREAK|IMG_END|PREFIX|MIDDLE|SUFFIX)\]"  # Llama-2, Mistral
    r"|<</?SYS>>"
)
GENERIC_MARKERS = re.compile(GENERIC)
_LOOKALIKE = str.maketrans({"<": "‹", ">": "›", "[": "⟦", "]": "⟧", "|": "¦", "｜": "¦"})
_MARKUP = set("<>[]|｜")


def harmless(marker: str) -> str:
    """A lookalike that no tokenizer reads as the marker: its brackets and bars swapped for
    similar characters (every marker matched here has some)."""
    return marker.translate(_LOOKALIKE)


def marker_pattern(model_tokens: Iterable[str] = ()) -> re.Pattern[str]:
    """The generic patterns plus a model's own control tokens (longest first)."""
    tokens = sorted({t for t in model_tokens if len(t) >= 3 and _MARKUP & set(t)}, key=len)
    literal = "|".join(re.escape(t) for t in reversed(tokens))
    return re.compile(f"{literal}|{GENERIC}" if literal else GENERIC)


def plain(text: str, pattern: re.Pattern[str] = GENERIC_MARKERS) -> str:
    """Untrusted text with every control marker made a harmless lookalike."""
    return pattern.sub(lambda m: harmless(m[0]), text)


def plain_messages(messages: list[dict], pattern: re.Pattern[str]) -> list[dict]:
    """Chat messages with markers defused in every content: what a generator sends."""
    return [
        {**m, "content": plain(m["content"], pattern)} if isinstance(m.get("content"), str) else m
        for m in messages
    ]
