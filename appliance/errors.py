"""The errors that cross rooms, in one place. Each carries a sentence saying what to do.

- `ApplianceError` and its kinds: a problem the operator can act on (a setting, a model
  file, an index another process holds, a user). The CLI prints `error: <message>` and exits
  with status 2; `serve` refuses to start with it.
- `BadQuestion`: a request refused, with its HTTP status and a stable `code` for programs.
- `Busy`: no answer slot came free in time; try again after `Busy.retry_after_s`.
- `NotReady`: still starting (see /ready).
Errors that stay inside one room (a reader's, the pipeline's) live in that room.
"""

from __future__ import annotations


class ApplianceError(Exception):
    """A problem an operator can fix; the message says what and how."""


class ConfigError(ApplianceError):
    """A configuration problem; the message names the key."""


class ModelError(ApplianceError):
    """A model file is missing or wrong; the message says which and how to fix it."""


class IndexLocked(ApplianceError):
    """Another process holds the index open."""


class IndexMismatch(ApplianceError):
    """The index holds vectors of other sizes than the embedders give (it was made with other
    embedders): `appliance serve` makes it anew; a check (`doctor`) leaves it as it is."""


class ClientGone(Exception):
    """The client of a question answered at once went away before the answer was done."""


class ServeError(ApplianceError):
    """`appliance serve` cannot run (its port is taken, or start-up failed)."""


class UserError(ApplianceError, ValueError):
    """A user or grant the user store refuses (users.py), with what to do instead."""


class Busy(ApplianceError):
    """Every answer slot is taken and the line is full, or the wait ran out."""

    retry_after_s = 10


class NotReady(Exception):
    """The appliance is still starting, or could not start: HTTP 503 with Retry-After."""


class BadQuestion(ValueError):
    """A request the appliance refuses, with a sentence saying what to fix and a stable
    `code` for programs (and the page, which words it for its reader)."""

    status = 400

    def __init__(self, message: str, code: str = "bad_request"):
        super().__init__(message)
        self.code = code


# What to do with an index the engine cannot open (a segment damaged on disk).
INDEX_DAMAGED_FIX = (
    "Restore data/ from a backup (scripts/restore.sh), or move data/index away: the next "
    "start makes it anew and indexes kb/ again"
)
