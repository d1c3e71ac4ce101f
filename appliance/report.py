"""The eval report as one self-contained HTML file (inline SVG plots, no scripts, nothing
fetched), for people who would rather look than read."""

from __future__ import annotations

import html
from collections import defaultdict

from appliance.evaluate import Report

_STYLE = """
body{font:15px/1.5 system-ui,sans-serif;margin:2rem auto;max-width:60rem;color:#1f2933}
h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:2rem}
table{border-collapse:collapse;width:100%}td,th{padding:.3rem .5rem;border-bottom:1px solid #e4e7eb;
text-align:left;vertical-align:top}.miss{color:#b42318}.num{text-align:right}
.cards{display:flex;gap:1rem;flex-wrap:wrap}.card{border:1px solid #e4e7eb;border-radius:8px;
padding:.6rem 1rem}.card b{display:block;font-size:1.4rem}
"""


def to_html(report: Report, title: str = "Retrieval evaluation") -> str:
    cards = [
        ("questions", str(report.n)),
        (f"recall@{report.k}", f"{report.recall_at_k:.3f}"),
        ("MRR", f"{report.mrr:.3f}"),
        ("p50 latency", f"{report.p50_ms:.1f} ms"),
        ("p95 latency", f"{report.p95_ms:.1f} ms"),
    ]
    if report.answer_phrase_rate is not None:
        cards.append(("answers with all phrases", f"{report.answer_phrase_rate:.3f}"))
    parts = [
        f"<!doctype html><html lang=en><meta charset=utf-8><title>{_e(title)}</title>",
        f"<style>{_STYLE}</style><h1>{_e(title)}</h1><div class=cards>",
        *(f"<div class=card>{_e(name)}<b>{_e(value)}</b></div>" for name, value in cards),
        "</div><h2>Retrieval latency</h2>",
        _histogram([q.ms for q in report.questions], "ms"),
        f"<h2>Recall@{report.k} by kind of question</h2>",
        _bars(_recall_by_kind(report)),
        "<h2>Questions</h2><table><tr><th>id</th><th>question</th><th>gold</th>"
        "<th class=num>rank</th><th class=num>ms</th><th>retrieved</th></tr>",
    ]
    for q in report.questions:
        gold = q.gold_file + (f" p{q.gold_page}" if q.gold_page else "")
        got = ", ".join(r["source"] + (f" p{r['page']}" if r["page"] else "") for r in q.retrieved)
        parts.append(
            f"<tr class={'hit' if q.hit else 'miss'}><td>{_e(q.id)}</td><td>{_e(q.question)}"
            f"{'<br><i>' + _e(q.answer) + '</i>' if q.answer else ''}</td><td>{_e(gold)}</td>"
            f"<td class=num>{q.rank or '–'}</td><td class=num>{q.ms:.1f}</td><td>{_e(got)}</td>"
            "</tr>"
        )
    parts.append("</table></html>")
    return "\n".join(parts)


def _recall_by_kind(report: Report) -> list[tuple[str, float, int]]:
    """Questions grouped by their `kind` (from the question file) or the gold file's folder."""
    groups: dict[str, list[bool]] = defaultdict(list)
    for q in report.questions:
        kind = q.kind or (q.gold_file.split("/")[0] if "/" in q.gold_file else "(top level)")
        groups[kind].append(q.hit)
    return sorted((k, sum(v) / len(v), len(v)) for k, v in groups.items())


def _histogram(values: list[float], unit: str, bins: int = 20) -> str:
    if not values:
        return "<p>no data</p>"
    low, high = min(values), max(values)
    width = (high - low) / bins or 1.0
    counts = [0] * bins
    for v in values:
        counts[min(bins - 1, int((v - low) / width))] += 1
    top = max(counts)
    bars = "".join(
        f'<rect x="{40 + i * 28}" y="{170 - 150 * c / top:.1f}" width="24" '
        f'height="{150 * c / top:.1f}" fill="#3e7bfa"><title>{low + i * width:.1f}–'
        f"{low + (i + 1) * width:.1f} {unit}: {c}</title></rect>"
        for i, c in enumerate(counts)
    )
    return (
        f'<svg viewBox="0 0 620 200" width="100%" role="img" aria-label="latency histogram">'
        f'{bars}<text x="40" y="190" font-size="12">{low:.1f} {unit}</text>'
        f'<text x="600" y="190" font-size="12" text-anchor="end">{high:.1f} {unit}</text>'
        f'<text x="36" y="24" font-size="12" text-anchor="end">{top}</text></svg>'
    )


def _bars(rows: list[tuple[str, float, int]]) -> str:
    height = 24 * len(rows) + 10
    bars = "".join(
        f'<text x="0" y="{24 * i + 18}" font-size="12">{_e(kind)} ({n})</text>'
        f'<rect x="220" y="{24 * i + 5}" width="{360 * share:.1f}" height="16" fill="#12b76a"/>'
        f'<text x="{226 + 360 * share:.1f}" y="{24 * i + 18}" font-size="12">{share:.2f}</text>'
        for i, (kind, share, n) in enumerate(rows)
    )
    return (
        f'<svg viewBox="0 0 640 {height}" width="100%" role="img" aria-label="recall">{bars}</svg>'
    )


def _e(text: object) -> str:
    return html.escape(str(text))
