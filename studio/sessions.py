"""Per-session Stop flags, keyed by `gr.Request.session_hash` (never in gr.State, which is deep-copied)."""

from __future__ import annotations

import threading


class StopFlags:
    """One `threading.Event` per running generation of a session; Stop sets it, the step callback reads it."""

    def __init__(self) -> None:
        self._flags: dict[str, threading.Event] = {}
        self._lock = threading.Lock()

    def start(self, session: str) -> threading.Event:
        """A fresh flag for a new generation of `session` (an earlier Stop does not stop the next one)."""
        flag = threading.Event()
        with self._lock:
            self._flags[session] = flag
        return flag

    def stop(self, session: str) -> bool:
        """Sets the session's flag; False when nothing was running."""
        with self._lock:
            flag = self._flags.get(session)
        if flag is None:
            return False
        flag.set()
        return True

    def finish(self, session: str, flag: threading.Event) -> None:
        with self._lock:
            if self._flags.get(session) is flag:
                del self._flags[session]

    def discard(self, session: str) -> None:
        """Stops and forgets the session (called from `demo.unload`)."""
        self.stop(session)
        with self._lock:
            self._flags.pop(session, None)

    def __len__(self) -> int:
        return len(self._flags)
