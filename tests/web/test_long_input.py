"""Long input in any script is budgeted in the model's tokens: an over-long question is a 400
that says so, and long conversations are trimmed to fit, never a 500 from the context window."""

from __future__ import annotations

import json

EMOJI_QUESTION = "🙂" * 1991  # under limits.max_question_chars, but ~6,000 tokens
LONG_CHINESE_ANSWER = "员工每年享有二十五天带薪年假，兼职员工按工作小时比例计算。" * 60
# The long answers alone overflow any window; a small one fills (and is read) sooner.
SMALL_WINDOW = {"generator__n_ctx": 1024, "limits__max_question_tokens": 300}


def test_a_question_too_long_in_tokens_is_a_400_that_says_so(client):
    for path, body in (
        ("/api/ask", {"question": EMOJI_QUESTION}),
        ("/api/ask/stream", {"question": EMOJI_QUESTION}),
        ("/v1/chat/completions", {"messages": [{"role": "user", "content": EMOJI_QUESTION}]}),
    ):
        reply = client.post(path, json=body)
        assert reply.status_code == 400, (path, reply.data[:300])
        assert "tokens" in reply.json["error"] and "max_question_tokens" in reply.json["error"]
    assert client.get("/api/search", query_string={"q": EMOJI_QUESTION}).status_code == 400


def test_long_conversations_are_trimmed_to_the_context_window(make_app):
    """A chat client sends its whole history: long earlier answers in Chinese filled the
    follow-up rewrite's prompt past the context window (HTTP 500)."""
    client = make_app(**SMALL_WINDOW).test_client()
    history = []
    for n in range(6):
        history += [
            {"role": "user", "content": f"第{n}个问题：年假有多少天？"},
            {"role": "assistant", "content": LONG_CHINESE_ANSWER},
        ]
    messages = [*history, {"role": "user", "content": "兼职员工呢？"}]
    reply = client.post("/v1/chat/completions", json={"messages": messages})
    assert reply.status_code == 200, reply.data[:500]
    assert reply.json["choices"][0]["message"]["content"]
    streamed = client.post("/v1/chat/completions", json={"messages": messages, "stream": True})
    assert streamed.status_code == 200
    assert b"data: [DONE]" in streamed.data and b'"error"' not in streamed.data


def test_follow_ups_after_a_long_answer_keep_working(make_app):
    """The page's conversations: a long earlier turn must not break every later follow-up."""
    from appliance.answer.conversations import conversation_key
    from appliance.answer.prompt import Turn

    app = make_app(**SMALL_WINDOW)
    client = app.test_client()
    parts = app.config["RUNTIME"].parts
    conversations = parts.assistant.conversations
    key = conversation_key("", "c1")  # the conversation of a caller without users
    conversations.add(key, Turn("年假政策是什么？" * 40, LONG_CHINESE_ANSWER))
    assert conversations.history(key), "the long turn is where the follow-ups will find it"
    for question in ("兼职员工呢？", "And for contractors?"):
        reply = client.post("/api/ask", json={"question": question, "conversation_id": "c1"})
        assert reply.status_code == 200, reply.data[:500]
        record = parts.history._db.execute(
            "SELECT record FROM queries WHERE id = ?", (reply.json["id"],)
        ).fetchone()[0]
        assert json.loads(record)["rewritten_query"], "the follow-up was read with the long turn"
