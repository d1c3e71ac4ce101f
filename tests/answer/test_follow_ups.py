"""A follow-up rewritten by the model is searched only when it uses the conversation's own
words: a small model adds places and products of its own."""

from __future__ import annotations

import pytest

from appliance.answer.assistant import invented_terms
from appliance.config import load_settings
from appliance.index.embedder import Embedder

SAID = (
    "How many days of annual leave do full-time staff get? "
    "Full-time staff get 25 days of annual leave per year. [1] And part-time staff?"
)


@pytest.fixture(scope="module")
def terms(models_dir):
    settings = load_settings(None, env={})
    return Embedder(settings.embedder, models_dir / "embedder").terms


def test_a_rewrite_in_the_conversation_s_words_is_kept(terms) -> None:
    rewrite = "How many days of annual leave do part-time staff get?"
    assert invented_terms(rewrite, SAID, terms) == set()
    # cut as the search cuts them: stems and stopwords add nothing ("gets", "does a")
    assert invented_terms("What leave does a part-time staff get?", SAID, terms) == set()


def test_a_rewrite_that_adds_a_place_or_a_product_is_not_searched(terms) -> None:
    rewrite = "How many days of annual leave do part-time contractors in Berlin get?"
    assert invented_terms(rewrite, SAID, terms) == terms("contractors Berlin")
