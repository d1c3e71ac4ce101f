"""The appliance's SQLite files, checked before they are opened. A file that is not a
database any more (a disk error, a copy cut short, a restore gone wrong) stopped the start
with a bare `sqlite3.DatabaseError` naming no file (a QA pass). What can be made again is
set aside and started anew, saying so: the manifest (kb/ is scanned again and the stored
vectors reused, nothing is embedded twice), the query history, the sign-in sessions, the
OCR page cache. The users and their keys cannot be: the start stops, naming the file and
the fix."""

from __future__ import annotations

import logging
import sqlite3
import time
from contextlib import closing
from pathlib import Path

from appliance.errors import ApplianceError

log = logging.getLogger("appliance")


def check_database(path: Path, what: str, replaceable: bool = True) -> None:
    """Set a damaged `path` aside (with its -wal and -shm files) when it can be made anew,
    else ApplianceError; a missing or sound one is left as it is."""
    if not path.exists():
        return
    try:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
            db.execute("PRAGMA schema_version").fetchone()
    except sqlite3.DatabaseError as err:
        if not replaceable:
            raise ApplianceError(
                f"{path} ({what}) is damaged: {err}. Restore it from a backup "
                "(scripts/restore.sh), or move it away and start without it"
            ) from None
        aside = path.with_name(f"{path.name}.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
        path.rename(aside)
        for extra in ("-wal", "-shm"):
            path.with_name(path.name + extra).unlink(missing_ok=True)
        log.warning(
            "%s (%s) was damaged (%s): set aside as %s, and started anew",
            path,
            what,
            err,
            aside.name,
            extra={"event": "database_replaced", "path": str(path)},
        )
