"""Recent turns per conversation id, so a follow-up ("and for part-timers?") can be
understood. Kept in memory, bounded: the oldest conversation is forgotten first."""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict, deque

from appliance.answer.prompt import Turn


def conversation_key(user: str, conversation_id: str | None) -> str | None:
    """Conversations are kept per asker (users.py): another user's id continues nothing."""
    return f"{user}\0{conversation_id}" if conversation_id else None


class Conversations:
    def __init__(self, turns: int, capacity: int):
        self.turns = turns
        self.capacity = capacity
        self._lock = threading.Lock()
        self._store: OrderedDict[str, deque[Turn]] = OrderedDict()

    @staticmethod
    def new_id() -> str:
        return uuid.uuid4().hex

    def history(self, conversation_id: str | None) -> list[Turn]:
        if not conversation_id or not self.turns:
            return []
        with self._lock:
            turns = self._store.get(conversation_id)
            return list(turns) if turns else []

    def add(self, conversation_id: str, turn: Turn) -> None:
        if not self.turns:
            return
        with self._lock:
            turns = self._store.pop(conversation_id, None) or deque(maxlen=self.turns)
            turns.append(turn)
            self._store[conversation_id] = turns
            while len(self._store) > self.capacity:
                self._store.popitem(last=False)
