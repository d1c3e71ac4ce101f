"""The answerability gate: a logistic model over the evidence, fitted to labelled questions,
and the threshold chosen for at most 5 % false refusals."""

from __future__ import annotations

import dataclasses
import random

from appliance.answer.answerable import Evidence, Gate, fit
from appliance.config import Floors
from appliance.evaluate import Result, calibrate


def labelled(n: int, seed: int = 7) -> list[tuple[Evidence, bool]]:
    """Answerable questions cover more of their terms than near-topic ones, with overlap."""
    rng = random.Random(seed)
    samples = []
    for i in range(n):
        answerable = i % 3 != 0
        centre = 0.55 if answerable else 0.3
        samples.append(
            (
                Evidence(
                    rng.uniform(0.35, 0.75),
                    min(1, max(0, rng.gauss(centre, 0.12))),
                    min(1, max(0, rng.gauss(centre + 0.15, 0.12))),
                ),
                answerable,
            )
        )
    return samples


def test_fitted_weights_separate_what_the_evidence_separates():
    samples = labelled(300)
    gate = Gate(fit(samples), 0.5)
    right = sum(gate.answerable(e) == label for e, label in samples)
    assert right / len(samples) > 0.85
    assert gate.probability(Evidence(0.7, 0.9, 0.95)) > 0.9
    assert gate.probability(Evidence(0.4, 0.05, 0.1)) < 0.1


def test_calibration_keeps_false_refusals_within_the_bound():
    results = [
        Result(
            str(n), "q", "f", None, True, 1, 1.0, [], answerable=label, evidence=evidence.as_dict()
        )
        for n, (evidence, label) in enumerate(labelled(200, seed=3))
    ]
    fitted = calibrate(results, Floors(0.3, 0.2))
    assert fitted["false_refusal_rate"] <= 0.05
    assert fitted["refusal_rate"] > 0.5
    assert len(fitted["gate_weights"]) == 8  # the bias and one per signal


def test_the_multilingual_signal_lets_the_gate_read_the_second_embedders_cosines():
    """The multilingual embedder's cosines run lower than MiniLM's: one bar on relevance
    refuses its answerable questions or passes English unanswerable ones. The signal moves
    the bar for the questions it measured alone."""
    rng = random.Random(5)
    samples = []
    for i in range(400):
        answerable, multilingual = i % 2 == 0, i % 4 >= 2
        centre = (0.55 if answerable else 0.42) - (0.15 if multilingual else 0.0)
        relevance = rng.gauss(centre, 0.03)
        samples.append(
            (Evidence(relevance, 0.4, 0.5, multilingual=float(multilingual)), answerable)
        )
    one_bar = [(dataclasses.replace(e, multilingual=0.0), label) for e, label in samples]

    def right(samples: list[tuple[Evidence, bool]]) -> float:
        gate = Gate(fit(samples), 0.5)
        return sum(gate.answerable(e) == label for e, label in samples) / len(samples)

    assert right(samples) > 0.95
    assert right(one_bar) < 0.8


def test_weights_from_before_a_signal_still_gate_without_it():
    old = Gate([-1.262, 4.097, 1.234, 2.361, -3.58], 0.78)  # before versions and identifiers
    evidence = Evidence(0.5, 0.3, 0.4, 0.0, versions_missing=1.0, identifiers_held=1.0)
    assert old.probability(evidence) == old.probability(Evidence(0.5, 0.3, 0.4, 0.0))
    new = Gate([-1.262, 4.097, 1.234, 2.361, -3.58, -3.7, 0.9], 0.78)
    assert new.probability(evidence) != old.probability(evidence)


def test_a_passage_holding_the_identifiers_is_judged_however_low_its_relevance():
    floors = Floors(dense=0.3, multilingual=0.2)
    assert not Evidence(0.2, 0.3, 0.3).close_enough(floors)
    assert Evidence(0.2, 0.3, 0.3, identifiers_held=1.0).close_enough(floors)
    only_a_year = Evidence(0.2, 0.3, 0.3, identifiers_held=1.0, plain_numbers=1.0)
    assert not only_a_year.close_enough(floors)  # "Who won the 2014 world cup?"


def test_each_embedder_has_a_relevance_floor_of_its_own():
    floors = Floors(dense=0.3, multilingual=0.2)
    assert not Evidence(0.25, 0.0, 0.0).close_enough(floors)
    assert Evidence(0.2, 0.0, 0.0, multilingual=1.0).close_enough(floors)
    assert not Evidence(0.19, 0.0, 0.0, multilingual=1.0).close_enough(floors)
