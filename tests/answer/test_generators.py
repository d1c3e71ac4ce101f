"""The llama_cpp generator on the real default model (SmolLM2, a ChatML template)."""

import pytest

from appliance.answer.generators import LlamaGenerator
from appliance.config import GeneratorSettings

MODEL = "generator/SmolLM2-135M-Instruct.Q4_1.gguf"


@pytest.fixture(scope="module")
def generator(models_dir):
    return LlamaGenerator(GeneratorSettings(max_tokens=24, temperature=0.0), models_dir / MODEL)


def test_uses_the_gguf_template_and_stops_at_its_turn_end(generator):
    assert generator.chat_format == "chat_template.default"  # the template stored in the GGUF
    assert generator.stop == ["<|im_end|>"]
    text = "".join(generator.stream([{"role": "user", "content": "Say hello."}]))
    assert text.strip() and "<|im_end|>" not in text and "<|im_start|>" not in text


def test_a_named_chat_format_overrides_the_template(models_dir):
    settings = GeneratorSettings(max_tokens=8, temperature=0.0, chat_format="llama-3")
    llama3 = LlamaGenerator(settings, models_dir / MODEL)
    assert llama3.chat_format == "llama-3"
    assert isinstance("".join(llama3.stream([{"role": "user", "content": "Hi"}])), str)


def ask(word: str) -> list[dict]:
    return [{"role": "user", "content": f"Write one sentence about a {word}."}]


def in_threads(functions) -> list:
    import threading

    results = [None] * len(functions)

    def run(n, f):
        results[n] = f()

    threads = [threading.Thread(target=run, args=(n, f)) for n, f in enumerate(functions)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return results


@pytest.fixture(scope="module")
def batched(models_dir):
    settings = GeneratorSettings(max_tokens=12, temperature=0.0)
    generator = LlamaGenerator(settings, models_dir / MODEL, slots=4)
    yield generator
    generator.close()


def test_concurrent_answers_are_decoded_together_each_in_its_own_sequence(batched):
    words = ["apple", "rocket", "violin", "tiger"]
    answers = in_threads([lambda w=w: "".join(batched.stream(ask(w))) for w in words])
    for word, answer in zip(words, answers, strict=True):
        assert word in answer.lower(), answer
        assert not any(other in answer.lower() for other in words if other != word), answer
    assert batched.decoder.most_at_once >= 2  # they shared steps, not took turns


def test_more_answers_than_sequences_wait_their_turn(models_dir):
    settings = GeneratorSettings(max_tokens=6, temperature=0.0)
    generator = LlamaGenerator(settings, models_dir / MODEL, slots=2)
    try:
        answers = in_threads([lambda: "".join(generator.stream(ask("cat")))] * 5)
        assert all(a and a.strip() for a in answers)
        assert generator.decoder.most_at_once <= 2
        assert generator.count_tokens("hello world") >= 2
    finally:
        generator.close()


def test_a_closed_answer_frees_its_sequence_and_the_cache_is_reused(models_dir):
    settings = GeneratorSettings(max_tokens=200, temperature=0.7)
    generator = LlamaGenerator(settings, models_dir / MODEL, slots=1)
    try:
        pieces = generator.stream(ask("long journey across the sea, in detail"))
        next(pieces)
        pieces.close()  # the reader went away: the one sequence must come free
        decoder = generator.decoder
        read, reused = decoder.prompt_tokens_read, decoder.prompt_tokens_reused
        (answer,) = in_threads([lambda: "".join(generator.stream(ask("dog"), 6))])
        assert answer.strip()
        assert decoder.prompt_tokens_reused - reused > 5  # the chat template's start, at least
        assert decoder.prompt_tokens_read - read < decoder.prompt_tokens_reused - reused + 20
    finally:
        generator.close()


def test_a_prompt_longer_than_the_context_is_a_clear_error(models_dir):
    from appliance.answer.generators import GeneratorError

    generator = LlamaGenerator(GeneratorSettings(n_ctx=256, max_tokens=8), models_dir / MODEL)
    try:
        with pytest.raises(GeneratorError, match="more than the 256"):
            "".join(generator.stream([{"role": "user", "content": "word " * 400}]))
    finally:
        generator.close()


def test_json_replies_follow_the_schema(batched):
    import json

    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    reply = batched.complete_json(
        [{"role": "user", "content": "Name a city, as JSON."}], schema, max_tokens=40
    )
    assert isinstance(json.loads(reply)["city"], str)


@pytest.mark.parametrize(
    ("text", "stops", "held"),
    [
        ("Hello <|im", ["<|im_end|>"], 4),
        ("Hello", ["<|im_end|>"], 0),
        ("a\n\nUs", ["\n\nUser:"], 4),
    ],
)
def test_the_start_of_a_stop_string_is_held_back(text, stops, held):
    from appliance.answer.batched import _stop_prefix

    assert _stop_prefix(text, stops) == held
