"""A follow-up rewritten by the model is searched only when it uses the conversation's own
words: a small model adds places and products of its own."""

from __future__ import annotations

import pytest

from appliance.answer.assistant import strays
from appliance.config import load_settings
from appliance.index.embedder import Embedder

FOLLOW_UP = "And part-time staff?"
SAID = (
    "How many days of annual leave do full-time staff get? "
    f"Full-time staff get 25 days of annual leave per year. [1] {FOLLOW_UP}"
)


@pytest.fixture(scope="module")
def terms(models_dir):
    settings = load_settings(None, env={})
    return Embedder(settings.embedder, models_dir / "embedder").terms


def test_a_rewrite_in_the_conversation_s_words_is_kept(terms) -> None:
    rewrite = "How many days of annual leave do part-time staff get?"
    assert not strays(rewrite, FOLLOW_UP, SAID, terms)
    # cut as the search cuts them: stems and stopwords add nothing ("gets", "does a")
    assert not strays("What leave does a part-time staff get?", FOLLOW_UP, SAID, terms)


def test_a_rewrite_that_adds_a_place_or_a_product_is_not_searched(terms) -> None:
    rewrite = "How many days of annual leave do part-time contractors in Berlin get?"
    assert strays(rewrite, FOLLOW_UP, SAID, terms)


def test_a_rewrite_that_leaves_out_the_follow_up_s_own_words_is_not_searched(terms) -> None:
    """Found by a QA pass: the tiny model restated the last answer, or wrote "The answer
    is:", and the follow-up's own question was never searched."""
    said = (
        "What port does the VPN gateway use? The VPN gateway is vpn.example.com, port 51820. "
        "How long do VPN sessions last?"
    )
    question = "How long do VPN sessions last?"
    assert strays("The VPN gateway is vpn.example.com, port 51820.", question, said, terms)
    assert strays("The answer is:", question, said, terms)
    assert not strays("How long do VPN gateway sessions last?", question, said, terms)
