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


def test_several_instances_answer_concurrently(models_dir):
    import threading

    pool = LlamaGenerator(
        GeneratorSettings(max_tokens=8, temperature=0.0), models_dir / MODEL, instances=2
    )
    answers = []
    threads = [
        threading.Thread(
            target=lambda: answers.append(
                "".join(pool.stream([{"role": "user", "content": "Count to three."}]))
            )
        )
        for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(answers) == 4 and all(a.strip() for a in answers)
    assert pool.count_tokens("hello world") >= 2
