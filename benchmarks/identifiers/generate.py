"""Generate the identifiers benchmark: a corpus of near-identical records and questions that
each name one exact identifier.

    python benchmarks/identifiers/generate.py [OUT_DIR]

Writes OUT_DIR/kb/ (default: this folder) with three families of synthetic documents, and
OUT_DIR/questions.jsonl:

  kb/maintenance/north/MR-24-NNNN.md   100 maintenance records, Markdown layout
  kb/maintenance/south/WO-NNNNN.txt    100 maintenance records, plain-text layout
  kb/incidents/INC-YYYY-NNNNN.md        60 incident tickets (hex, ORA- and HTTP substatus codes)
  kb/config/NN-<host>.md|.txt           40 host notes (hosts, IPs, backup archives, versions)

Every record follows its family's template, so records differ mainly in their identifiers
(unit names, part and serial numbers, ticket ids, error codes, host names, archive names,
version strings). Identifiers are drawn with deliberate near-collisions (ZX-339563 and
ZX-339536, unit0250 / unit0205 / unit250, v2.14.3 / v2.14.30, INC-2024-00417 / INC-2024-00471)
so that substring or fuzzy matching ranks the wrong record.

Deterministic: fixed seeds, standard library only, no clock or hash-order dependence. Idempotent:
a file whose bytes are unchanged is not rewritten (its mtime stays, so an existing index stays
valid), and files under kb/ that the generator does not produce are removed.
"""

from __future__ import annotations

import json
import random
import re
import sys
from datetime import date, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
SEED = 20240417

# --------------------------------------------------------------------------------------------
# Shared pools

TECHNICIANS = [
    "Marta Lindqvist",
    "Tomasz Wrobel",
    "Aisha Okafor",
    "Daniel Brennan",
    "Ingrid Solberg",
    "Ravi Menon",
    "Lucia Ferraro",
    "Jonas Albrecht",
    "Chen Wei",
    "Fatima Haddad",
    "Pieter de Vries",
    "Sofia Marquez",
    "Henrik Dahl",
    "Nadia Petrova",
    "Owen Gallagher",
    "Yuki Tanaka",
    "Bruno Castell",
    "Elif Yildiz",
    "Samuel Osei",
    "Katarzyna Nowak",
    "Miguel Rocha",
    "Anneli Virtanen",
    "George Pappas",
    "Hana Novakova",
]

ENGINEERS = [
    "a.okafor",
    "d.brennan",
    "i.solberg",
    "r.menon",
    "l.ferraro",
    "j.albrecht",
    "c.wei",
    "f.haddad",
    "p.devries",
    "s.marquez",
    "h.dahl",
    "n.petrova",
    "o.gallagher",
    "y.tanaka",
    "e.yildiz",
    "k.nowak",
    "m.rocha",
    "g.pappas",
]

TEAMS = [
    "Platform Operations",
    "Billing Engineering",
    "Data Platform",
    "Identity & Access",
    "Warehouse Systems",
    "Site Reliability",
    "Facilities IT",
    "Customer Portal",
    "Integration Services",
    "Reporting & BI",
]

# equipment type: (model, [(part description, part family)], [work sentences with {part}])
EQUIPMENT = [
    (
        "Hydra CX-40 water chiller",
        [
            "condenser fan bearing kit",
            "expansion valve assembly",
            "refrigerant pressure sensor",
            "compressor contactor",
        ],
        [
            "Condenser coil cleaned with low-pressure rinse; approach temperature back within "
            "spec.",
            "Refrigerant charge checked against the nameplate; no leak found with the electronic "
            "detector.",
            "Chilled water delta-T logged at {num1} K under partial load.",
        ],
    ),
    (
        "Atlas-Kern RS-22 rotary screw compressor",
        [
            "inlet valve seal kit",
            "oil separator element",
            "minimum pressure valve",
            "drive coupling insert",
        ],
        [
            "Oil sample taken for analysis; level topped up with synthetic compressor oil.",
            "Discharge temperature measured at {num2} degrees C after twenty minutes loaded.",
            "Condensate drain tested and cleared; intake filter housing wiped down.",
        ],
    ),
    (
        "Veltro HP-7 centrifugal pump",
        ["mechanical seal cartridge", "impeller wear ring", "motor bearing set", "coupling spider"],
        [
            "Shaft alignment checked with the laser kit; offset corrected to under 0.05 mm.",
            "Vibration at the drive end measured {num1} mm/s, within the ISO 10816 band.",
            "Suction strainer removed, cleaned and refitted with a new gasket.",
        ],
    ),
    (
        "Nordair AHU-12 air handling unit",
        ["V-belt set", "supply fan motor", "damper actuator", "filter frame gasket"],
        [
            "Bag filters replaced; differential pressure dropped to {num2} Pa after the change.",
            "Belt tension and pulley alignment adjusted; guard refitted and secured.",
            "Frost thermostat and damper end stops tested through a full cycle.",
        ],
    ),
    (
        "Kestrel PX-3000 UPS",
        [
            "battery string module",
            "cooling fan tray",
            "bypass relay board",
            "input filter capacitor",
        ],
        [
            "Battery impedance test run on all strings; weakest block at {num2} percent of "
            "reference.",
            "Transfer to static bypass and back tested under load without a dropout.",
            "Firmware event log exported and cleared after review.",
        ],
    ),
    (
        "Tessa FC-48 battery charger",
        ["rectifier module", "charging cable assembly", "contactor relay", "cooling fan"],
        [
            "Charge curve verified on a test battery; equalise stage ended on time.",
            "Cable insulation and plug contacts inspected for heat marks.",
            "Output ripple measured at {num1} percent, inside the maker's limit.",
        ],
    ),
    (
        "Linfeld CD-5 conveyor drive",
        ["gearbox output seal", "drive chain tensioner", "torque limiter", "brake pad set"],
        [
            "Gearbox oil level checked and topped up; breather cleaned.",
            "Chain elongation measured at {num1} percent; within the replacement limit.",
            "Emergency stop pull-cord tested along the full run.",
        ],
    ),
    (
        "Marrow B-200 gas boiler",
        ["ignition electrode", "flue gas sensor", "burner gasket set", "condensate trap"],
        [
            "Combustion analysed at high and low fire; CO2 set to {num1} percent.",
            "Heat exchanger inspected through the burner door; light scaling brushed off.",
            "Safety shut-off valve leak-tested with the manometer.",
        ],
    ),
]

GENERIC_WORK = [
    "Unit isolated and locked out before work started; permit closed afterwards.",
    "Visual inspection of wiring, terminals and mounting found nothing further.",
    "Area cleaned and the unit returned to the shift supervisor in automatic mode.",
    "Operator reported intermittent noise during start-up before this visit.",
    "No further defects observed; standard checklist completed in full.",
    "Run hours read from the controller and entered in the asset register.",
]

SITES_NORTH = [f"Plant {p}, Bay {b}" for p in (1, 2, 3) for b in range(1, 15)]
SITES_SOUTH = [
    f"Building {b}, Level {lv}, Room {r}"
    for b in "ABCD"
    for lv in (0, 1, 2)
    for r in (4, 7, 11, 15)
]

# --------------------------------------------------------------------------------------------
# Identifier pools with near-collisions


def swap_adjacent(rng: random.Random, digits: str) -> str:
    i = rng.randrange(len(digits) - 1)
    return digits[:i] + digits[i + 1] + digits[i] + digits[i + 2 :]


def near_collision_pool(rng, n, fixed, make, vary, sibling_share=0.35):
    """n distinct identifiers: `fixed` first, then new ones from make(), a share of them
    derived from an earlier one by vary() (a transposed digit and the like)."""
    pool = list(fixed)
    seen = set(pool)
    while len(pool) < n:
        if pool and rng.random() < sibling_share:
            candidate = vary(rng, rng.choice(pool))
        else:
            candidate = make(rng)
        if candidate and candidate not in seen:
            pool.append(candidate)
            seen.add(candidate)
    return pool


def make_unit(rng):
    return f"unit{rng.randrange(1, 1000):04d}"


def vary_unit(rng, unit):
    digits = swap_adjacent(rng, unit[4:])
    return "unit" + digits if digits != "0000" else None


def make_part(rng):
    return f"ZX-{rng.randrange(100000, 1000000)}"


def vary_part(rng, part):
    digits = swap_adjacent(rng, part[3:])
    return "ZX-" + digits if digits[0] != "0" else None


def make_serial(rng):
    letters = "ABCDEFGHJKLMNPQRSTUVWXYZ"
    return (
        f"SN-{rng.choice(letters)}{rng.choice(letters)}{rng.randrange(1, 10)}-"
        f"{rng.randrange(100000, 1000000)}"
    )


def vary_serial(rng, serial):
    head, digits = serial[:7], serial[7:]
    return head + swap_adjacent(rng, digits)


def make_ticket(rng):
    return f"INC-{rng.choice((2023, 2024))}-{rng.randrange(1, 3000):05d}"


def vary_ticket(rng, ticket):
    year, number = ticket[4:8], ticket[9:]
    if rng.random() < 0.3:
        return f"INC-{4047 - int(year)}-{number}"  # same number, other year
    return f"INC-{year}-{swap_adjacent(rng, number)}"


def make_hex(rng):
    return "E0x" + "".join(rng.choice("0123456789ABCDEF") for _ in range(4))


def vary_hex(rng, code):
    return "E0x" + swap_adjacent(rng, code[3:])


def make_version(rng):
    return f"v{rng.randrange(1, 4)}.{rng.randrange(0, 20)}.{rng.randrange(0, 40)}"


def vary_version(rng, version):
    major, minor, patch = version[1:].split(".")
    choice = rng.randrange(4)
    if choice == 0 and len(patch) == 1:
        return f"v{major}.{minor}.{patch}0"  # v2.14.3 -> v2.14.30
    if choice == 1 and len(patch) == 2:
        return f"v{major}.{minor}.{patch[0]}"  # v2.14.30 -> v2.14.3
    if choice == 2 and len(minor) == 2 and minor[1] != "0":
        return f"v{major}.{minor[0]}.{minor[1]}{patch}"  # v2.14.3 -> v2.1.43
    return f"v{major}.{minor}.{int(patch) + 1}"


# --------------------------------------------------------------------------------------------
# Maintenance records


def maintenance(rng: random.Random):
    units = near_collision_pool(rng, 200, ["unit0250", "unit0205"], make_unit, vary_unit)
    parts = near_collision_pool(rng, 200, ["ZX-339563", "ZX-339536"], make_part, vary_part)
    serials = near_collision_pool(rng, 200, [], make_serial, vary_serial)
    # shuffle pairings so unit0250 is not next to ZX-339563 by construction
    rng.shuffle(units)
    rng.shuffle(parts)
    docs = []
    for i in range(200):
        north = i % 2 == 0
        model, part_names, work = rng.choice(EQUIPMENT)
        unit, part, serial = units[i], parts[i], serials[i]
        part_name = rng.choice(part_names)
        installed = date(2016, 1, 1) + timedelta(days=rng.randrange(0, 6 * 365))
        warranty = installed + timedelta(days=365 * rng.choice((3, 5, 7)))
        visits = []
        day = date(2023, 1, 9) + timedelta(days=rng.randrange(0, 200))
        for _ in range(rng.randrange(2, 4)):
            visits.append(
                (
                    day,
                    rng.choice(TECHNICIANS),
                    rng.choice(
                        [
                            "quarterly inspection",
                            "scheduled service",
                            "breakdown call-out",
                            "annual inspection",
                            "follow-up check",
                            "vibration survey",
                        ]
                    ),
                )
            )
            day += timedelta(days=rng.randrange(40, 200))
        last_day, last_tech, _ = visits[-1]
        next_due = last_day + timedelta(days=rng.choice((90, 180, 365)))
        code = (
            f"{rng.randrange(1000, 10000)}-{rng.choice('BCDFGHKMNPRSTVXZ')}"
            f"{rng.choice('BCDFGHKMNPRSTVXZ')}"
        )
        site = rng.choice(SITES_NORTH if north else SITES_SOUTH)
        fmt = {"num1": f"{rng.uniform(1.2, 6.8):.1f}", "num2": rng.randrange(40, 95)}
        sentences = [s.format(**fmt) for s in rng.sample(work, 2)]
        sentences += rng.sample(GENERIC_WORK, rng.randrange(1, 3))
        sentences.insert(
            rng.randrange(0, len(sentences) + 1),
            f"Replaced the {part_name} with part {part}; the old one was "
            f"tagged and sent to stores for inspection.",
        )
        facts = {
            "unit": unit,
            "part": part,
            "serial": serial,
            "model": model,
            "part_name": part_name,
            "installed": installed.isoformat(),
            "warranty": warranty.isoformat(),
            "last_date": last_day.isoformat(),
            "last_tech": last_tech,
            "next_due": next_due.isoformat(),
            "code": code,
            "site": site,
        }
        history = "\n".join(f"- {d.isoformat()} — {t} — {what}" for d, t, what in visits)
        if north:
            number = f"MR-24-{1000 + i * 7:04d}"
            path = f"maintenance/north/{number}.md"
            text = (
                f"# Maintenance record {number}\n\n"
                f"Unit: {unit}\n"
                f"Equipment: {model}\n"
                f"Location: {site}\n"
                f"Serial number: {serial}\n"
                f"Installed: {installed.isoformat()} (warranty until {warranty.isoformat()})\n"
                f"Service access code: {code}\n\n"
                f"## Work performed\n\n{' '.join(sentences)}\n\n"
                f"## Parts fitted\n\n"
                f"- {part} — {part_name} (fits {unit})\n"
                f"- consumables from standard stock, not itemised\n\n"
                f"## Service history\n\n{history}\n\n"
                f"Last serviced {last_day.isoformat()} by {last_tech}. "
                f"Next service due {next_due.isoformat()}.\n"
            )
        else:
            number = f"WO-{52000 + i * 13}"
            path = f"maintenance/south/{number}.txt"
            text = (
                f"WORK ORDER {number} - CLOSED\n\n"
                f"Asset {unit} ({model}), serial {serial}, located in {site}.\n"
                f"In service since {installed.isoformat()}; maker's warranty until "
                f"{warranty.isoformat()}.\n"
                f"Technician: {last_tech}    Date: {last_day.isoformat()}\n"
                f"Access code for the service panel: {code}\n\n"
                f"Notes:\n{' '.join(sentences)}\n\n"
                f"Parts used: {part} ({part_name}), qty 1, fits {unit} only.\n\n"
                f"Earlier visits on this asset:\n{history}\n\n"
                f"Next planned service: {next_due.isoformat()}.\n"
            )
        docs.append((path, text, facts))
    # Refurbished spares: 20 records note a refurbished part of another record, numbered with
    # an -R suffix (ZX-339563-R), so a prefix or substring match finds the wrong record.
    spares = random.Random(f"{SEED}-spares")
    sources = [parts.index("ZX-339563"), parts.index("ZX-339536")]
    sources += spares.sample([i for i in range(200) if i not in sources], 18)
    for source in sources:
        target = spares.choice([i for i in range(200) if i != source])
        path, text, facts = docs[target]
        note = (
            f"Stores also hold refurbished spare {parts[source]}-R, returned from another "
            f"asset; it is not fitted here.\n"
        )
        docs[target] = (path, text + note, facts)
    return docs


# --------------------------------------------------------------------------------------------
# Incident tickets

HEX_MEANINGS = [
    ("TLS handshake rejected by upstream", "renewed the intermediate certificate bundle"),
    ("controller watchdog timeout", "raised the watchdog interval and patched the driver"),
    ("message queue consumer lag above threshold", "added two consumer replicas"),
    ("license server unreachable", "restored the firewall rule to the license server"),
    ("checksum mismatch on uploaded batch", "re-sent the batch from the archived copy"),
    ("session store write timeout", "moved the session store to the faster volume"),
    ("schema version older than application", "ran the pending migration"),
    ("clock skew exceeds token tolerance", "re-enabled NTP sync on the node"),
    ("disk quota exceeded on spool volume", "purged the stale spool files and raised the quota"),
    ("config reload failed validation", "reverted the bad configuration commit"),
    ("payment provider returned malformed response", "upgraded the provider client library"),
    ("cache eviction storm", "increased the cache memory limit"),
    ("authentication backend refused bind", "rotated the service account password"),
    ("print spooler queue stuck", "restarted the spooler and cleared the poisoned job"),
    ("file lock held by orphaned process", "killed the orphaned process and added a lock timeout"),
    ("DNS resolution failure for internal zone", "fixed the forwarder on the resolver"),
    ("batch job exceeded its time window", "split the job into two smaller batches"),
    ("out-of-memory kill of worker process", "raised the worker memory limit"),
]

ORA_CODES = [
    ("ORA-00942", "table or view does not exist", "granted SELECT on the renamed view"),
    ("ORA-00924", "missing BY keyword", "fixed the hand-edited report query"),
    ("ORA-01555", "snapshot too old", "enlarged the undo retention"),
    (
        "ORA-00060",
        "deadlock detected while waiting for resource",
        "reordered the updates in the nightly job",
    ),
    (
        "ORA-00054",
        "resource busy and acquire with NOWAIT specified",
        "rescheduled the index rebuild outside business hours",
    ),
    (
        "ORA-12514",
        "TNS listener does not currently know of service requested",
        "registered the service with the listener again",
    ),
    ("ORA-12541", "TNS no listener", "restarted the listener and enabled its service unit"),
    (
        "ORA-12154",
        "TNS could not resolve the connect identifier specified",
        "corrected the tnsnames.ora entry on the app servers",
    ),
    (
        "ORA-01017",
        "invalid username/password; logon denied",
        "updated the stored credential after rotation",
    ),
    ("ORA-28000", "the account is locked", "unlocked the account and fixed the retry loop"),
    ("ORA-04031", "unable to allocate shared memory", "increased the shared pool size"),
    ("ORA-01653", "unable to extend table", "added a datafile to the tablespace"),
    ("ORA-00001", "unique constraint violated", "deduplicated the import file"),
    ("ORA-01031", "insufficient privileges", "restored the missing role grant"),
    ("ORA-00904", "invalid identifier", "deployed the matching schema change"),
    ("ORA-01400", "cannot insert NULL", "added a default value for the new column"),
]

HTTP_CODES = [
    (
        "HTTP 503.0",
        "application pool stopped",
        "restarted the application pool and fixed its identity password",
    ),
    ("HTTP 503.2", "concurrent request limit exceeded", "raised the concurrent request limit"),
    ("HTTP 503.3", "request queue full", "added a second worker process"),
    ("HTTP 503.4", "FastCGI queue full", "raised the FastCGI instance count"),
    ("HTTP 502.3", "bad gateway, upstream timed out", "raised the upstream timeout"),
    ("HTTP 502.5", "process failure in the hosting module", "reinstalled the hosting bundle"),
    ("HTTP 500.19", "configuration data invalid", "removed the duplicate config section"),
    ("HTTP 500.21", "module not recognized", "installed the missing handler module"),
    ("HTTP 500.13", "web server too busy", "moved the site to a larger instance"),
    (
        "HTTP 504.0",
        "gateway timeout on the reporting backend",
        "added an index to the slow report query",
    ),
]

SERVICES = [
    "checkout-api",
    "payments-gateway",
    "order-sync",
    "warehouse-scanner",
    "customer-portal",
    "report-builder",
    "invoice-mailer",
    "sso-bridge",
    "label-printer-service",
    "erp-connector",
    "stock-forecast",
    "shipping-rates",
    "document-archive",
    "hr-selfservice",
]

SYMPTOMS = [
    "Users reported failed requests and a spike in support calls.",
    "Monitoring raised an alert on the error rate shortly after the morning peak began.",
    "The overnight run did not finish and downstream reports were empty.",
    "Warehouse staff could not complete scans on two handheld terminals.",
    "Latency rose steadily over an hour before requests started failing.",
    "A partner reported failed callbacks from our side.",
]


def incidents(rng: random.Random):
    tickets = near_collision_pool(
        rng, 60, ["INC-2024-00417", "INC-2024-00471", "INC-2023-00417"], make_ticket, vary_ticket
    )
    rng.shuffle(tickets)
    hexes = near_collision_pool(rng, 34, ["E0x7F3A", "E0x7F3B", "E0x7FA3"], make_hex, vary_hex)
    rng.shuffle(hexes)
    codes = [("hex", h, *HEX_MEANINGS[rng.randrange(len(HEX_MEANINGS))]) for h in hexes]
    codes += [("ora", c, m, f) for c, m, f in ORA_CODES]
    codes += [("http", c, m, f) for c, m, f in HTTP_CODES]
    rng.shuffle(codes)
    docs = []
    for ticket, (family, code, meaning, fix) in zip(tickets, codes, strict=False):
        service = rng.choice(SERVICES)
        opened = date(int(ticket[4:8]), 1, 2) + timedelta(days=rng.randrange(0, 360))
        hour, minute = rng.randrange(0, 24), rng.randrange(0, 60)
        severity = rng.choice(["P1", "P2", "P2", "P3", "P3", "P4"])
        reporter, assignee = rng.sample(ENGINEERS, 2)
        duration = rng.randrange(12, 400)
        related = f"INC-2022-{rng.randrange(1, 3000):05d}"
        kind = {"hex": "application error", "ora": "database error", "http": "web server error"}[
            family
        ]
        cause = f"{meaning} on {service}"
        root = rng.choice(
            [
                f"The {kind} {code} ({meaning}) was raised after a change the previous evening.",
                f"Root cause was {code}: {meaning}, triggered by a load spike.",
                f"Logs showed {code} ({meaning}) on every failing request.",
            ]
        )
        title = rng.choice(
            [
                f"{service} failing with {code}",
                f"{service} degraded",
                f"Errors on {service} after deployment",
                f"{service} outage",
            ]
        )
        text = (
            f"# {ticket}: {title}\n\n"
            f"Opened: {opened.isoformat()} {hour:02d}:{minute:02d} UTC\n"
            f"Severity: {severity}\n"
            f"Status: Resolved\n"
            f"Service: {service}\n"
            f"Reporter: {reporter}\n"
            f"Assignee: {assignee}\n"
            f"Error code: {code}\n"
            f"Related: {related}\n\n"
            f"## Symptoms\n\n{rng.choice(SYMPTOMS)} {rng.choice(SYMPTOMS)} "
            f"The service was affected for {duration} minutes.\n\n"
            f"## Root cause\n\n{root} Meaning of {code}: {meaning}.\n\n"
            f"## Resolution\n\nThe on-call engineer {fix}. "
            f"Error rates returned to baseline and the ticket was closed by {assignee}.\n\n"
            f"## Follow-up\n\n"
            + rng.choice(
                [
                    "Add an alert on this error code to the service dashboard.",
                    "Document the fix in the runbook for this service.",
                    "Review the change process for evening deployments.",
                    "Add a synthetic check that exercises this path every five minutes.",
                ]
            )
            + "\n"
        )
        facts = {
            "ticket": ticket,
            "code": code,
            "family": family,
            "meaning": meaning,
            "fix": fix,
            "cause": cause,
            "assignee": assignee,
            "severity": severity,
            "service": service,
        }
        docs.append((f"incidents/{ticket}.md", text, facts))
    return docs


# --------------------------------------------------------------------------------------------
# Host and configuration notes

ROLES = [
    ("db", "PostgreSQL primary for the {svc} database", "pgsync"),
    ("db", "PostgreSQL streaming replica for the {svc} database", "pgsync"),
    ("app", "application server running {svc}", "deploy-agent"),
    ("web", "reverse proxy in front of {svc}", "edge-proxy"),
    ("cache", "Redis cache for {svc} sessions", "cache-exporter"),
    ("mq", "RabbitMQ broker for {svc} events", "mq-relay"),
    ("backup", "backup target holding {svc} archives", "backup-agent"),
    ("bms", "building-management gateway polling the {svc} controllers", "bms-poller"),
]

SVC_NAMES = [
    "billing",
    "orders",
    "warehouse",
    "identity",
    "reporting",
    "payroll",
    "ticketing",
    "inventory",
    "shipping",
    "crm",
]

ARCHIVE_PLACES = [
    "/srv/backup/weekly",
    "/mnt/vault/archive",
    "nas-02:/export/backups",
    "s3://corp-offsite-backups/monthly",
    "/data/restore-tests",
    "tape set LTO-8 in the Building B safe",
]


def config_notes(rng: random.Random):
    hosts = ["db-prod-07", "db-prod-70", "db-prod-17", "db-stage-07"]
    seen = set(hosts)
    while len(hosts) < 40:
        role = rng.choice(ROLES)[0]
        env = rng.choice(["prod", "prod", "stage", "dev"])
        if rng.random() < 0.4:  # a sibling of an existing host: transposed or shifted number
            base = rng.choice(hosts)
            prefix, num = base.rsplit("-", 1)
            candidate = (
                f"{prefix}-{num[::-1]}" if num[0] != num[1] else f"{prefix}-{int(num) + 10:02d}"
            )
        else:
            candidate = f"{role}-{env}-{rng.randrange(1, 40):02d}"
        if candidate not in seen:
            hosts.append(candidate)
            seen.add(candidate)
    versions = near_collision_pool(
        rng, 40, ["v2.14.3", "v2.14.30", "v2.1.43"], make_version, vary_version, sibling_share=0.5
    )
    rng.shuffle(versions)
    archives = [
        "backup_2024-03-17.tar.gz",
        "backup_2024-03-17.sql.gz",
        "backup_2024-03-18.tar.gz",
        "backup_2023-03-17.tar.gz",
    ]
    seen_a = set(archives)
    while len(archives) < 40:
        d = date(2023, 6, 1) + timedelta(days=rng.randrange(0, 400))
        stem = rng.choice(["backup", "backup", "db_backup", "snapshot"])
        ext = rng.choice([".tar.gz", ".tar.gz", ".sql.gz", ".tar.zst"])
        candidate = f"{stem}_{d.isoformat()}{ext}"
        if candidate not in seen_a:
            archives.append(candidate)
            seen_a.add(candidate)
    rng.shuffle(archives)
    legacy_labels = [f"unit{n}" for n in (250, 205, 520, 25, 502)]
    docs = []
    used_ips = set()
    for i, host in enumerate(hosts):
        kind = host.split("-")[0]
        roles = [r for r in ROLES if r[0] == kind] or [ROLES[2]]
        _, role_tpl, agent = rng.choice(roles)
        svc = rng.choice(SVC_NAMES)
        role = role_tpl.format(svc=svc)
        fqdn = f"{host}.corp.example"
        while True:
            ip = f"10.{rng.randrange(16, 32)}.{rng.randrange(0, 256)}.{rng.randrange(2, 255)}"
            if ip not in used_ips:
                used_ips.add(ip)
                break
        os_name = rng.choice(
            ["Debian 12.5", "Debian 11.9", "Ubuntu 22.04.4 LTS", "Rocky Linux 9.3", "RHEL 8.9"]
        )
        owner = rng.choice(TEAMS)
        version = versions[i]
        archive = archives[i]
        place = rng.choice(ARCHIVE_PLACES)
        size = f"{rng.uniform(0.4, 180):.1f} GB"
        key = f"age1{''.join(rng.choice('0123456789acdefghjklmnpqrstuvwxyz') for _ in range(10))}"
        cpu, ram = rng.choice([(2, 4), (4, 8), (4, 16), (8, 32), (16, 64)])
        patch_window = rng.choice(
            [
                "Tuesday 22:00-23:00",
                "Wednesday 06:00-07:00",
                "Sunday 03:00-05:00",
                "first Monday of the month, 21:00",
            ]
        )
        reason = rng.choice(
            [
                f"The {agent} agent is pinned to {version} until the vendor fixes the reconnect "
                f"bug.",
                f"The {agent} agent was upgraded to {version} during the last patch window.",
                f"The {agent} agent runs {version}; newer builds are not yet certified for this "
                f"role.",
            ]
        )
        extra = ""
        if kind == "bms":
            label = legacy_labels.pop(0) if legacy_labels else None
            if label:
                extra = (
                    f"The gateway still polls the old controller labelled {label} "
                    f"(pre-2019 naming) until it is replaced.\n"
                )
        lines = [
            f"Host: {fqdn}",
            f"Address: {ip}",
            f"Role: {role}",
            f"Owner: {owner}",
            f"OS: {os_name}, {cpu} vCPU, {ram} GB RAM",
            f"Agent: {agent} {version}",
            f"Patch window: {patch_window}",
        ]
        body = (
            f"This host is the {role}. It is monitored from mon-01.corp.example and takes its "
            f"time from ntp-01.corp.example. {reason}\n{extra}\n"
            f"Backups: the last archive verified by a test restore is {archive} "
            f"({size}), kept at {place}. It is encrypted with age key {key}; the private "
            f"key is in the {owner} vault.\n\n"
            f"Change notes: firewall allows inbound traffic only from the {svc} subnet and the "
            f"jump host. Ask {owner} before rebooting outside the patch window.\n"
        )
        if i % 2 == 0:
            path = f"config/{i + 1:02d}-{host}.md"
            text = f"# Host note: {host}\n\n" + "\n".join(lines) + "\n\n## Notes\n\n" + body
        else:
            path = f"config/{i + 1:02d}-{host}.txt"
            text = f"HOST NOTE {host.upper()}\n\n" + "\n".join(lines) + "\n\n" + body
        facts = {
            "host": host,
            "fqdn": fqdn,
            "ip": ip,
            "role": role,
            "owner": owner,
            "os": os_name,
            "version": version,
            "agent": agent,
            "archive": archive,
            "place": place,
            "size": size,
            "key": key,
            "patch_window": patch_window,
        }
        docs.append((path, text, facts))
    return docs


# --------------------------------------------------------------------------------------------
# Identifier matching (the same rule as check_questions.py)


def occurs(identifier: str, text: str) -> bool:
    """`identifier` appears in `text` as a whole identifier, ignoring case: not preceded by a
    letter or digit, and not followed by one, nor by . - _ / and a letter or digit (so
    v2.14.3 is not found in v2.14.30, nor ZX-339563 in ZX-339563-R), except that a host name
    may be followed by its domain (.corp.example)."""
    pattern = (
        r"(?<![A-Za-z0-9])"
        + re.escape(identifier)
        + r"(?!\.corp\.example)(?![A-Za-z0-9]|[._/\-][A-Za-z0-9])"
        + r"|(?<![A-Za-z0-9])"
        + re.escape(identifier)
        + r"(?=\.corp\.example)"
    )
    return re.search(pattern, text, re.IGNORECASE) is not None


# --------------------------------------------------------------------------------------------
# Questions: written per family from templates, targets drawn at random among the records,
# with the identifiers testers reported (unit0250, ZX-339563, ...) always included.


def questions(rng, maint, incs, confs):
    out = []

    def add(family, identifier, question, doc, phrases):
        out.append(
            {
                "family": family,
                "identifier": identifier,
                "question": question,
                "gold_file": doc[0],
                "phrases": phrases,
            }
        )

    def pick(docs, key, must, n):
        chosen = [d for m in must for d in docs if d[2][key] == m]
        rest = [d for d in docs if d not in chosen]
        chosen += rng.sample(rest, n - len(chosen))
        return chosen

    # unit names (8)
    unit_templates = [
        ("secret code of {unit}", ["code"]),
        ("What is the service access code for {unit}?", ["code"]),
        ("who serviced {unit} last", ["last_tech"]),
        ("When was {unit} last serviced, and by whom?", ["last_date", "last_tech"]),
        ("where is {unit} installed?", ["site"]),
        ("{unit} next service due date", ["next_due"]),
        ("What kind of equipment is {unit}?", ["model"]),
        ("Is {unit} still under warranty?", ["warranty"]),
    ]
    for doc, (tpl, keys) in zip(
        pick(maint, "unit", ["unit0250", "unit0205"], 8), unit_templates, strict=False
    ):
        f = doc[2]
        add("unit", f["unit"], tpl.format(unit=f["unit"]), doc, [f[k] for k in keys])
    # part numbers (8)
    part_templates = [
        ("Which unit does part {part} fit?", ["unit"]),
        ("what was {part} installed in", ["unit"]),
        ("Part {part}: which machine, and what is it?", ["unit", "part_name"]),
        ("I have a {part} in my hand, where does it go?", ["unit"]),
        ("{part} fits which asset", ["unit"]),
        ("Who fitted part {part}?", ["last_tech"]),
        ("Which unit does part {part} fit?", ["unit"]),
        ("what is part number {part}", ["part_name"]),
    ]
    for doc, (tpl, keys) in zip(
        pick(maint, "part", ["ZX-339563", "ZX-339536"], 8), part_templates, strict=False
    ):
        f = doc[2]
        add("part_number", f["part"], tpl.format(part=f["part"]), doc, [f[k] for k in keys])
    # serial numbers (5)
    serial_templates = [
        ("Which unit has serial number {serial}?", ["unit"]),
        ("{serial} - what model is that", ["model"]),
        ("warranty end for serial {serial}?", ["warranty"]),
        ("where is the machine with serial {serial}", ["site"]),
        ("When was serial {serial} installed?", ["installed"]),
    ]
    for doc, (tpl, keys) in zip(pick(maint, "serial", [], 5), serial_templates, strict=False):
        f = doc[2]
        add("serial_number", f["serial"], tpl.format(serial=f["serial"]), doc, [f[k] for k in keys])
    # ticket ids (8)
    ticket_templates = [
        ("what went wrong in {t}", ["meaning"]),
        ("How was {t} resolved?", ["fix"]),
        ("who handled {t}", ["assignee"]),
        ("{t} root cause?", ["meaning"]),
        ("Which service did {t} affect?", ["service"]),
        ("What error code was logged in {t}?", ["code"]),
        ("what was the fix for {t}", ["fix"]),
        ("Summarise {t}", ["service", "meaning"]),
    ]
    for doc, (tpl, keys) in zip(
        pick(incs, "ticket", ["INC-2024-00417", "INC-2024-00471"], 8),
        ticket_templates,
        strict=False,
    ):
        f = doc[2]
        add("ticket_id", f["ticket"], tpl.format(t=f["ticket"]), doc, [f[k] for k in keys])
    # hex error codes (5)
    hex_docs = [d for d in incs if d[2]["family"] == "hex"]
    hex_templates = [
        ("what does error {c} mean", ["meaning"]),
        ("{c} - what's the fix?", ["fix"]),
        ("Which ticket mentions {c}?", ["ticket"]),
        ("We are seeing {c} on {svc}, has this happened before?", ["ticket", "fix"]),
        ("error {c}", ["meaning"]),
    ]
    for doc, (tpl, keys) in zip(
        pick(hex_docs, "code", ["E0x7F3A"], 5), hex_templates, strict=False
    ):
        f = doc[2]
        add(
            "error_code",
            f["code"],
            tpl.format(c=f["code"], svc=f["service"]),
            doc,
            [f[k] for k in keys],
        )
    # ORA codes (4)
    ora_docs = [d for d in incs if d[2]["family"] == "ora"]
    ora_templates = [
        ("which incident had {c}", ["ticket"]),
        ("how did we fix {c} last time", ["fix"]),
        ("{c} in production, what caused it?", ["meaning"]),
        ("Got {c} from the nightly job. Known issue?", ["ticket", "fix"]),
    ]
    for doc, (tpl, keys) in zip(
        pick(ora_docs, "code", ["ORA-00942", "ORA-12514"], 4), ora_templates, strict=False
    ):
        f = doc[2]
        add("ora_code", f["code"], tpl.format(c=f["code"]), doc, [f[k] for k in keys])
    # HTTP substatus codes (3)
    http_docs = [d for d in incs if d[2]["family"] == "http"]
    http_templates = [
        ("Which ticket was about {c} errors?", ["ticket"]),
        ("what caused the {c} responses", ["meaning"]),
        ("{c} - how was it fixed?", ["fix"]),
    ]
    for doc, (tpl, keys) in zip(
        pick(http_docs, "code", ["HTTP 503.2", "HTTP 503.3"], 3), http_templates, strict=False
    ):
        f = doc[2]
        add("http_code", f["code"], tpl.format(c=f["code"]), doc, [f[k] for k in keys])
    # host names (7): some by full name, some by short name
    host_templates = [
        ("what is {fqdn} used for", "fqdn", ["role"]),
        ("IP address of {host}?", "host", ["ip"]),
        ("who owns {host}", "host", ["owner"]),
        ("Which OS does {fqdn} run?", "fqdn", ["os"]),
        ("When can I patch {host}?", "host", ["patch_window"]),
        ("{fqdn} agent version", "fqdn", ["version"]),
        ("what does {host} do", "host", ["role"]),
    ]
    for doc, (tpl, id_key, keys) in zip(
        pick(confs, "host", ["db-prod-07", "db-stage-07"], 7), host_templates, strict=False
    ):
        f = doc[2]
        phrases = [f[k] for k in keys]
        add("host_name", f[id_key], tpl.format(fqdn=f["fqdn"], host=f["host"]), doc, phrases)
    # archive file names (6)
    archive_templates = [
        ("where is {a} kept", ["place"]),
        ("How big is {a}?", ["size"]),
        ("Which key encrypts {a}?", ["key"]),
        ("{a} - which host is that backup from?", ["host"]),
        ("where can I find {a}", ["place"]),
        ("is {a} a verified backup, and from which server", ["host"]),
    ]
    for doc, (tpl, keys) in zip(
        pick(confs, "archive", ["backup_2024-03-17.tar.gz", "backup_2024-03-17.sql.gz"], 6),
        archive_templates,
        strict=False,
    ):
        f = doc[2]
        add("file_name", f["archive"], tpl.format(a=f["archive"]), doc, [f[k] for k in keys])
    # version strings (6)
    version_templates = [
        ("Which host is still on {v}?", ["host"]),
        ("which server runs {agent} {v}", ["host"]),
        ("anything still running {v}?", ["host"]),
        ("{v} is installed where?", ["host"]),
        ("Who owns the machine running {v}?", ["owner"]),
        ("what runs version {v}", ["host", "agent"]),
    ]
    for doc, (tpl, keys) in zip(
        pick(confs, "version", ["v2.14.3", "v2.14.30", "v2.1.43"], 6),
        version_templates,
        strict=False,
    ):
        f = doc[2]
        add(
            "version",
            f["version"],
            tpl.format(v=f["version"], agent=f["agent"]),
            doc,
            [f[k] for k in keys],
        )
    rows = []
    for n, q in enumerate(out, 1):
        rows.append(
            {
                "id": f"id-{n:03d}",
                "question": q["question"],
                "gold_file": q["gold_file"],
                "gold_page": None,
                "answer_phrases": q["phrases"],
                "kind": "identifier",
                "answerable": True,
                "family": q["family"],
                "identifier": q["identifier"],
            }
        )
    return rows


# --------------------------------------------------------------------------------------------


def write_if_changed(path: Path, data: bytes) -> bool:
    if path.is_file() and path.read_bytes() == data:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
    return True


def main(argv: list[str]) -> int:
    out_dir = Path(argv[1]).resolve() if len(argv) > 1 else HERE
    kb = out_dir / "kb"
    maint = maintenance(random.Random(f"{SEED}-maintenance"))
    incs = incidents(random.Random(f"{SEED}-incidents"))
    confs = config_notes(random.Random(f"{SEED}-config"))
    docs = maint + incs + confs
    rows = questions(random.Random(f"{SEED}-questions"), maint, incs, confs)

    # sanity: sizes, and every question's identifier in its gold file only
    texts = {path: text for path, text, _ in docs}
    assert len(texts) == len(docs), "duplicate paths"
    for path, text in texts.items():
        words = len(text.split())
        assert 80 <= words <= 250, f"{path}: {words} words"
    for row in rows:
        holders = [p for p, t in texts.items() if occurs(row["identifier"], t)]
        assert holders == [row["gold_file"]], (row["id"], row["identifier"], holders)
        assert row["identifier"].lower() in row["question"].lower(), row["id"]
        for phrase in row["answer_phrases"]:
            assert phrase.lower() in texts[row["gold_file"]].lower(), (row["id"], phrase)

    written = 0
    for path, text, _ in docs:
        written += write_if_changed(kb / path, text.encode("utf-8"))
    expected = {kb / path for path, _, _ in docs}
    removed = 0
    if kb.is_dir():
        for stale in sorted(p for p in kb.rglob("*") if p.is_file() and p not in expected):
            stale.unlink()
            removed += 1
        for folder in sorted((p for p in kb.rglob("*") if p.is_dir()), reverse=True):
            if not any(folder.iterdir()):
                folder.rmdir()
    lines = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    q_written = write_if_changed(out_dir / "questions.jsonl", lines.encode("utf-8"))
    size = sum(len(t.encode("utf-8")) for t in texts.values())
    print(
        f"{len(docs)} documents ({size:,} bytes): {written} written, "
        f"{len(docs) - written} unchanged, {removed} stale removed; "
        f"{len(rows)} questions ({'written' if q_written else 'unchanged'})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
