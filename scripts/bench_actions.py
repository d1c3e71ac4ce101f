"""Actions: how well a generator model chooses a tool and fills its arguments, and what the
JSON-schema grammar costs.

A built-in labelled set (4 tools, 15 plain questions that must be routed to "none" and 15
action requests with the expected tool and argument values) goes through the appliance's own
code paths, as `appliance.tools.actions.Actions` runs them: `LlamaGenerator.complete_json`
with `choose.route_messages/route_schema/parse_route` (ROUTE_TOKENS) and, for each action
request with the correct tool forced, `choose.fill_messages/fill_schema/parse_arguments/
check_arguments` (FILL_TOKENS). Measured:

  - routing: accuracy over all messages; false actions (a question routed to a tool, of the
    questions); missed actions (a request routed to "none", of the requests); wrong tool (a
    request routed to another tool, of the requests); latency p50/p95 of the routing call;
  - filling: required arguments that the message gives, filled; arguments that the message
    gives, filled with the expected value (case-insensitive substring, either way); proposals
    `ready` (nothing missing, no problems) among requests that give every required argument,
    and not ready among those that leave one out; invented values (a kept argument whose
    value does not occur in the message); latency p50/p95 of the filling call;
  - baseline: a plain, unconstrained 16-token `generator.stream` completion on the same
    prompt (the same routing or filling messages), so the grammar's cost is a ratio.

Each kind of call runs as one pass over the messages (route, route baseline, fill, fill
baseline), so that every call finds the same prompt cache state as its counterpart: the
previous message's prompt of the same kind. Sampling is greedy (temperature 0), so the replies
do not change between --repeat rounds; each call's latency is the median over the rounds
(the 1-minute load average is printed: timings on a busy host are noisy).

    .venv/bin/python scripts/bench_actions.py [--model PATH.gguf] [--n-ctx 4096]
        [--threads 0] [--repeat 1] [--json figures.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from appliance.answer.generators import LlamaGenerator, default_threads  # noqa: E402
from appliance.config import GeneratorSettings  # noqa: E402
from appliance.tools import ToolResult, choose  # noqa: E402
from appliance.tools.actions import FILL_TOKENS, ROUTE_TOKENS  # noqa: E402

DEFAULT_MODEL = ROOT / "models" / "generator" / "SmolLM2-135M-Instruct.Q4_1.gguf"
BASELINE_TOKENS = 16


@dataclass(frozen=True)
class BenchTool:
    """A tool as Actions sees one (name, description, parameters); never called here."""

    name: str
    description: str
    parameters: dict

    def call(self, arguments: dict) -> ToolResult:
        return ToolResult(True, "not run (benchmark)")


def _text(description: str) -> dict:
    return {"type": "string", "description": description}


TOOLS = {
    t.name: t
    for t in [
        BenchTool(
            "report_broken_device",
            "Report a broken or faulty device (printer, screen, projector, ...) to the IT desk",
            {
                "type": "object",
                "properties": {
                    "device": _text("the device that is broken"),
                    "location": _text("where the device is, e.g. floor 3 or room B2"),
                    "priority": {"type": "string", "enum": ["low", "normal", "high"]},
                },
                "required": ["device", "location"],
            },
        ),
        BenchTool(
            "book_room",
            "Book a meeting room",
            {
                "type": "object",
                "properties": {
                    "room": _text("the room's name or number"),
                    "date": _text("the day, e.g. 2025-03-14 or Monday"),
                    "time": _text("the start time, e.g. 14:00"),
                },
                "required": ["room", "date"],
            },
        ),
        BenchTool(
            "order_supplies",
            "Order office supplies",
            {
                "type": "object",
                "properties": {
                    "item": _text("what to order"),
                    "quantity": {"type": "integer", "minimum": 1, "description": "how many"},
                },
                "required": ["item", "quantity"],
            },
        ),
        BenchTool(
            "reset_password",
            "Reset a user's password",
            {
                "type": "object",
                "properties": {"username": _text("the user's account name")},
                "required": ["username"],
            },
        ),
    ]
}

QUESTIONS = [
    "How many days of annual leave do full-time staff get?",
    "What is the wifi password for guests?",
    "How do I reset my password?",
    "Which meeting rooms have a projector?",
    "Who do I call when the printer on floor 3 is broken?",
    "How are travel expenses reimbursed?",
    "What are the office opening hours?",
    "Where can I find the expense policy?",
    "How long does it take for ordered supplies to arrive?",
    "Is there parking at the office?",
    "What is the dress code?",
    "When is the next public holiday?",
    "Can part-time staff work from home?",
    "What does the IT desk do?",
    "How do I connect to the VPN?",
]
# (message, tool, the arguments the message gives): a request that leaves out a required
# argument must come back not ready, with nothing invented for it.
REQUESTS = [
    (
        "The printer on floor 3 is broken, please report it.",
        "report_broken_device",
        {"device": "printer", "location": "floor 3"},
    ),
    (
        "Report the projector in room B2 as broken, high priority.",
        "report_broken_device",
        {"device": "projector", "location": "B2", "priority": "high"},
    ),
    (
        "My monitor at desk 14 is faulty, please log it with low priority.",
        "report_broken_device",
        {"device": "monitor", "location": "desk 14", "priority": "low"},
    ),
    (
        "Please report the coffee machine in the kitchen as broken.",
        "report_broken_device",
        {"device": "coffee machine", "location": "kitchen"},
    ),
    (
        "Book room B2 on Monday at 14:00.",
        "book_room",
        {"room": "B2", "date": "Monday", "time": "14:00"},
    ),
    (
        "Please book the Oak room for 2025-03-14.",
        "book_room",
        {"room": "Oak", "date": "2025-03-14"},
    ),
    (
        "Reserve meeting room 4.1 on Friday at 9:30.",
        "book_room",
        {"room": "4.1", "date": "Friday", "time": "9:30"},
    ),
    ("I need to book the boardroom.", "book_room", {"room": "boardroom"}),
    ("Order 5 boxes of printer paper.", "order_supplies", {"item": "printer paper", "quantity": 5}),
    (
        "Please order 12 whiteboard markers.",
        "order_supplies",
        {"item": "whiteboard markers", "quantity": 12},
    ),
    (
        "We need 3 new staplers, please order them.",
        "order_supplies",
        {"item": "staplers", "quantity": 3},
    ),
    ("Order some sticky notes for the team.", "order_supplies", {"item": "sticky notes"}),
    ("Reset the password for user jsmith.", "reset_password", {"username": "jsmith"}),
    (
        "Please reset my password, my username is anna.k",
        "reset_password",
        {"username": "anna.k"},
    ),
    ("Please reset my password.", "reset_password", {}),
]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def share(part: int, whole: int) -> float:
    return part / whole if whole else float("nan")


def matches(value, expected) -> bool:
    a, b = str(value).strip().lower(), str(expected).strip().lower()
    return bool(a) and bool(b) and (a in b or b in a)


def timed(call):
    started = time.perf_counter()
    result = call()
    return result, (time.perf_counter() - started) * 1000


def baseline(generator: LlamaGenerator, messages: list[dict]) -> tuple[float, int]:
    """(ms, tokens) of a plain 16-token completion of the same prompt."""
    text, ms = timed(lambda: "".join(generator.stream(messages, BASELINE_TOKENS)))
    return ms, generator.count_tokens(text)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL, help="a GGUF file")
    parser.add_argument("--n-ctx", type=int, default=4096)
    parser.add_argument("--threads", type=int, default=0, help="generator.threads (0: default)")
    parser.add_argument(
        "--repeat", type=int, default=1, help="time every call this many times (median)"
    )
    parser.add_argument("--json", type=Path, help="save the figures (and every reply) here")
    args = parser.parse_args()

    settings = GeneratorSettings(
        model=str(args.model), n_ctx=args.n_ctx, threads=args.threads, temperature=0.0
    )
    started = time.perf_counter()
    generator = LlamaGenerator(settings, args.model)
    load_s = time.perf_counter() - started
    threads = args.threads or default_threads()
    print(f"{args.model.name}: loaded in {load_s:.1f} s, {generator.device}, {threads} threads")

    # Warm-up (first-call allocations), not measured.
    generator.complete_json(
        choose.route_messages(TOOLS, QUESTIONS[0]), choose.route_schema(TOOLS), ROUTE_TOKENS
    )
    "".join(generator.stream(choose.route_messages(TOOLS, QUESTIONS[0]), BASELINE_TOKENS))

    labelled = [(q, choose.NONE, {}) for q in QUESTIONS] + REQUESTS
    records = [
        {"message": m, "expected_tool": t, "given": g, "route_ms": [], "route_base_ms": []}
        for m, t, g in labelled
    ]
    requests = [r for r in records if r["expected_tool"] != choose.NONE]
    for r in requests:
        r.update(fill_ms=[], fill_base_ms=[])
    loads = [os.getloadavg()[0]]
    for _ in range(args.repeat):  # greedy: every round gives the same replies, new timings
        # -- routing, then its baseline --------------------------------------------------------
        for r in records:
            reply, ms = timed(
                lambda m=r["message"]: generator.complete_json(
                    choose.route_messages(TOOLS, m), choose.route_schema(TOOLS), ROUTE_TOKENS
                )
            )
            r["route_ms"].append(ms)
            r.update(route_reply=reply, routed=choose.parse_route(reply, TOOLS))
            r["route_tokens"] = generator.count_tokens(reply)
        for r in records:
            ms, r["route_base_tokens"] = baseline(
                generator, choose.route_messages(TOOLS, r["message"])
            )
            r["route_base_ms"].append(ms)

        # -- filling with the correct tool forced, then its baseline ---------------------------
        for r in requests:
            tool = TOOLS[r["expected_tool"]]
            reply, ms = timed(
                lambda t=tool, m=r["message"]: generator.complete_json(
                    choose.fill_messages(t, [m]), choose.fill_schema(t), FILL_TOKENS
                )
            )
            kept, missing, problems = choose.check_arguments(tool, choose.parse_arguments(reply))
            r["fill_ms"].append(ms)
            r.update(fill_reply=reply, arguments=kept, missing=missing, problems=problems)
            r.update(ready=not missing and not problems, fill_tokens=generator.count_tokens(reply))
        for r in requests:
            tool = TOOLS[r["expected_tool"]]
            ms, r["fill_base_tokens"] = baseline(
                generator, choose.fill_messages(tool, [r["message"]])
            )
            r["fill_base_ms"].append(ms)
        loads.append(os.getloadavg()[0])

    figures = score(records, requests)
    figures.update(model=args.model.name, device=generator.device, threads=threads)
    figures.update(n_ctx=args.n_ctx, load_s=round(load_s, 2), repeat=args.repeat)
    figures["load_average_1m"] = loads  # before, and after every round: noise on a busy host
    show(figures, records, requests)
    if args.json:
        args.json.write_text(
            json.dumps({"figures": figures, "records": records}, indent=2, ensure_ascii=False)
        )
        print(f"\nsaved to {args.json}")


def score(records: list[dict], requests: list[dict]) -> dict:
    questions = [r for r in records if r["expected_tool"] == choose.NONE]
    required_given = filled_required = given_total = right_value = 0
    complete = ready_complete = incomplete = not_ready_incomplete = 0
    kept_total = invented = proposals_inventing = 0
    for r in requests:
        tool = TOOLS[r["expected_tool"]]
        required = tool.parameters.get("required", [])
        given, kept = r["given"], r["arguments"]
        for name in required:
            if name in given:
                required_given += 1
                filled_required += name in kept
        for name, value in given.items():
            given_total += 1
            right_value += name in kept and matches(kept[name], value)
        if all(name in given for name in required):
            complete += 1
            ready_complete += r["ready"]
        else:
            incomplete += 1
            not_ready_incomplete += not r["ready"]
        made_up = [k for k, v in kept.items() if str(v).lower() not in r["message"].lower()]
        r["invented"] = made_up
        kept_total += len(kept)
        invented += len(made_up)
        proposals_inventing += bool(made_up)

    def latency(key: str, rows: list[dict]) -> dict:
        values = [statistics.median(r[key]) for r in rows]
        return {"p50": statistics.median(values), "p95": percentile(values, 0.95)}

    route, route_base = latency("route_ms", records), latency("route_base_ms", records)
    fill, fill_base = latency("fill_ms", requests), latency("fill_base_ms", requests)
    return {
        "messages": len(records),
        "questions": len(questions),
        "requests": len(requests),
        "route_accuracy": share(
            sum(r["routed"] == r["expected_tool"] for r in records), len(records)
        ),
        "false_action_rate": share(
            sum(r["routed"] != choose.NONE for r in questions), len(questions)
        ),
        "missed_action_rate": share(
            sum(r["routed"] == choose.NONE for r in requests), len(requests)
        ),
        "wrong_tool_rate": share(
            sum(r["routed"] not in (choose.NONE, r["expected_tool"]) for r in requests),
            len(requests),
        ),
        "route_ms": route,
        "route_baseline_ms": route_base,
        "route_ratio_p50": route["p50"] / route_base["p50"],
        "route_reply_tokens_p50": statistics.median(r["route_tokens"] for r in records),
        "route_baseline_tokens_p50": statistics.median(r["route_base_tokens"] for r in records),
        "required_given": required_given,
        "required_filled_share": share(filled_required, required_given),
        "given_arguments": given_total,
        "expected_value_share": share(right_value, given_total),
        "complete_requests": complete,
        "ready_share": share(ready_complete, complete),
        "incomplete_requests": incomplete,
        "not_ready_share_incomplete": share(not_ready_incomplete, incomplete),
        "kept_arguments": kept_total,
        "invented_values": invented,
        "invented_share": share(invented, kept_total),
        "proposals_with_invented": proposals_inventing,
        "fill_ms": fill,
        "fill_baseline_ms": fill_base,
        "fill_ratio_p50": fill["p50"] / fill_base["p50"],
        "fill_reply_tokens_p50": statistics.median(r["fill_tokens"] for r in requests),
        "fill_baseline_tokens_p50": statistics.median(r["fill_base_tokens"] for r in requests),
    }


def show(f: dict, records: list[dict], requests: list[dict]) -> None:
    def pct(x: float) -> str:
        return f"{100 * x:5.1f} %"

    q, n = f["questions"], f["requests"]
    rows = [
        ("== routing ==", "", ""),
        ("accuracy", pct(f["route_accuracy"]), f"of {f['messages']} messages"),
        ("false actions", pct(f["false_action_rate"]), f"of {q} questions routed to a tool"),
        ("missed actions", pct(f["missed_action_rate"]), f"of {n} requests routed to none"),
        ("wrong tool", pct(f["wrong_tool_rate"]), f"of {n} requests routed to another tool"),
        ("latency p50", f"{f['route_ms']['p50']:7.0f} ms", f"p95 {f['route_ms']['p95']:.0f} ms"),
        (
            "baseline p50",
            f"{f['route_baseline_ms']['p50']:7.0f} ms",
            f"p95 {f['route_baseline_ms']['p95']:.0f} ms (plain {BASELINE_TOKENS}-token stream)",
        ),
        (
            "grammar ratio p50",
            f"{f['route_ratio_p50']:7.2f} x",
            f"reply {f['route_reply_tokens_p50']:g} tokens vs {f['route_baseline_tokens_p50']:g}",
        ),
        ("== filling (correct tool forced) ==", "", ""),
        (
            "required filled",
            pct(f["required_filled_share"]),
            f"of {f['required_given']} required args the message gives",
        ),
        (
            "expected value",
            pct(f["expected_value_share"]),
            f"of {f['given_arguments']} args the message gives",
        ),
        ("ready", pct(f["ready_share"]), f"of {f['complete_requests']} complete requests"),
        (
            "not ready",
            pct(f["not_ready_share_incomplete"]),
            f"of {f['incomplete_requests']} requests missing a required arg",
        ),
        (
            "invented values",
            pct(f["invented_share"]),
            f"{f['invented_values']} of {f['kept_arguments']} kept args, "
            f"in {f['proposals_with_invented']} of {n} proposals",
        ),
        ("latency p50", f"{f['fill_ms']['p50']:7.0f} ms", f"p95 {f['fill_ms']['p95']:.0f} ms"),
        (
            "baseline p50",
            f"{f['fill_baseline_ms']['p50']:7.0f} ms",
            f"p95 {f['fill_baseline_ms']['p95']:.0f} ms (plain {BASELINE_TOKENS}-token stream)",
        ),
        (
            "grammar ratio p50",
            f"{f['fill_ratio_p50']:7.2f} x",
            f"reply {f['fill_reply_tokens_p50']:g} tokens vs {f['fill_baseline_tokens_p50']:g}",
        ),
    ]
    print(
        f"\n{f['model']} ({f['device']}, {f['threads']} threads, n_ctx {f['n_ctx']}, "
        f"{f['repeat']} timing round(s), load average "
        f"{' -> '.join(f'{x:.1f}' for x in f['load_average_1m'])})"
    )
    for name, value, note in rows:
        print(f"\n{name}" if name.startswith("==") else f"  {name:<19} {value:>10}   {note}")

    wrong = [r for r in records if r["routed"] != r["expected_tool"]]
    if wrong:
        print("\nmisrouted:")
        for r in wrong:
            print(f"  {r['expected_tool']:>20} -> {r['routed']:<20} {r['message']}")
    odd = [r for r in requests if r["invented"] or r["problems"]]
    if odd:
        print("\ninvented or invalid arguments:")
        for r in odd:
            why = [f"invented {', '.join(r['invented'])}"] if r["invented"] else []
            why += r["problems"]
            print(f"  {r['message']}  [{'; '.join(why)}]\n      {r['fill_reply'].strip()[:160]}")


if __name__ == "__main__":
    main()
