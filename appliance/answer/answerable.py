"""Does the retrieved text answer the question? A calibrated gate, not one cosine threshold:
near-topic questions (a neighbouring tool, another version, a fact about the organisation)
retrieve passages as similar as on-topic ones do, so similarity alone cannot tell them apart.

Signals, each from 0 to 1:
- relevance: the best passage's cosine similarity with the question;
- coverage: the share of the question's terms (IDF-weighted) that the best sentence, list
  item or table row contains (answer/extractive.py);
- passage coverage: the same for the best whole passage;
- names missing: 1 when the question names something (an identifier, a word in capitals, a
  Latin-letter word in a Chinese or Japanese question: pacman, SMTP, asyncio.Queue) that no
  indexed passage holds at all, else 0. A near-topic question is usually about a
  neighbouring tool or product, and the documents never mention it;
- versions missing: 1 when the question names a version (Python 3.13, v2.1.43, Debian 12,
  PEP 695) that none of the retrieved passages names, else 0. A question about another
  version than the documents' retrieves the passages about the same thing in theirs;
- identifiers held: 1 when the question names identifiers with a digit in them (a ticket,
  a part number, a version: INC-2024-00417, ZX-339563) and the best passage holds them all
  exactly, else 0. Such a question is answered by that passage however little its words
  resemble the question's ("Summarise INC-2023-02684"), so it is also judged when its
  relevance is below its floor (config.Floors), unless all it names are plain numbers:
  many passages hold a 2014 or a 4025, whatever they are about ("2014 年世界杯冠军…");
- multilingual: 1 when the question was searched with the multilingual embedder (it is not
  in English), whose cosine is then the relevance, else 0. Each embedder spreads its
  similarities differently: this is the gate's allowance for the second one's.

    P(answerable) = logistic(w0 + w1·relevance + w2·coverage + w3·passage_coverage
                             + w4·names_missing + w5·versions_missing
                             + w6·identifiers_held + w7·multilingual)

The weights (answers.gate_weights) are fitted by `appliance eval --calibrate` on questions
labelled answerable or not; answers.min_answerable is the probability below which the
question is refused. Recalibrate when the embedder changes (its cosines shift). Weights
fitted before a signal existed (fewer numbers) still work, without the later signals.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from appliance.config import Floors


@dataclass(frozen=True)
class Evidence:
    relevance: float
    coverage: float
    passage_coverage: float
    names_missing: float = 0.0
    versions_missing: float = 0.0
    identifiers_held: float = 0.0
    multilingual: float = 0.0
    plain_numbers: float = 0.0  # 1: the identifiers held are only numbers (not a feature)

    def close_enough(self, floors: Floors) -> bool:
        """Worth judging at all: a passage close in meaning, or one holding the identifiers
        (more than plain numbers)."""
        floor = floors.of(bool(self.multilingual))
        held = self.identifiers_held == 1.0 and not self.plain_numbers
        return self.relevance >= floor or held

    def features(self) -> list[float]:
        return [
            self.relevance,
            self.coverage,
            self.passage_coverage,
            self.names_missing,
            self.versions_missing,
            self.identifiers_held,
            self.multilingual,
        ]

    def as_dict(self) -> dict:
        return {k: round(v, 4) for k, v in asdict(self).items()}


@dataclass(frozen=True)
class Gate:
    weights: Sequence[float]  # bias, then one per feature
    min_probability: float

    def probability(self, evidence: Evidence) -> float:
        features = evidence.features()[: len(self.weights) - 1]  # weights from before a feature
        z = self.weights[0] + sum(w * x for w, x in zip(self.weights[1:], features, strict=True))
        return 1 / (1 + math.exp(-max(-40.0, min(40.0, z))))

    def answerable(self, evidence: Evidence) -> bool:
        return self.probability(evidence) >= self.min_probability


def fit(
    samples: Sequence[tuple[Evidence, bool]],
    steps: int = 20000,
    rate: float = 2.0,
    l2: float = 0.001,
) -> list[float]:
    """Logistic-regression weights for labelled evidence, by gradient descent (a few features,
    a few hundred questions: numpy is enough)."""
    import numpy as np

    x = np.array([[1.0, *e.features()] for e, _ in samples])
    y = np.array([1.0 if label else 0.0 for _, label in samples])
    w = np.zeros(x.shape[1])
    penalty = np.full(x.shape[1], l2)
    penalty[0] = 0.0  # the bias is not shrunk
    for _ in range(steps):
        p = 1 / (1 + np.exp(-np.clip(x @ w, -40, 40)))
        w -= rate * (x.T @ (p - y) / len(y) + penalty * w)
    return [round(float(v), 3) for v in w]
