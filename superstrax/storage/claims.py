"""Writer claims: at most one process writes a given data folder at a time.

A claim is a small file '<key>-claim.json' next to the data folder, created with
O_CREAT | O_EXCL, which is atomic on local file systems and on NFS (v3 and later): of several
writers only one creates it. It records who holds it (writer id, pid, host, time), so that a
claim left by a dead process can be recognised and taken over:

- the holder ran on this host and its pid is gone: stale at once (in the holder's own
  process: once the saver holding it was dropped without closing);
- the holder ran on another host: stale when the file was not refreshed for
  FOREIGN_STALE_SECONDS (the holder touches it at every chunk it writes);
- the file is empty or unreadable (its creator died between create and write): stale after
  UNREADABLE_GRACE_SECONDS.

Taking over a stale claim is done under a second exclusive file ('<claim>.break'), so that
two writers that both judged a claim stale cannot remove each other's fresh claim.

The name has four '-'-separated parts, so strax (which takes only '<run>-<type>-<hash>'
entries for data) and DataDirectory.list_keys both ignore it.
"""
import json
import os
import socket
import time
import uuid
import weakref

CLAIM_SUFFIX = "-claim.json"
BREAK_SUFFIX = ".break"
FOREIGN_STALE_SECONDS = 3600.0
UNREADABLE_GRACE_SECONDS = 30.0
BREAK_STALE_SECONDS = 30.0

__all__ = ["CLAIM_SUFFIX", "Claim", "claim_path", "new_writer_id", "read_claim", "is_stale",
           "describe_holder"]


def new_writer_id() -> str:
    """A short id unique to one writer (hex only: no '-', so it fits in folder names)."""
    return uuid.uuid4().hex[:12]


def claim_path(folder: str) -> str:
    return os.path.normpath(folder) + CLAIM_SUFFIX


def _host() -> str:
    return socket.gethostname()


def read_claim(path: str):
    """(holder info or None if unreadable, mtime) of a claim file; None if there is none."""
    try:
        mtime = os.stat(path).st_mtime
        with open(path) as f:
            text = f.read()
    except FileNotFoundError:
        return None
    try:
        info = json.loads(text)
        if not isinstance(info, dict):
            info = None
    except ValueError:
        info = None
    return info, mtime


def _pid_alive(pid) -> bool:
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:        # alive, owned by another user
        return True
    except (OSError, ValueError, TypeError, OverflowError):
        return False
    return True


def is_stale(info, mtime, now=None) -> bool:
    """Whether a claim's holder is known (or, for other hosts, presumed) dead."""
    now = time.time() if now is None else now
    if info is None:
        return now - mtime > UNREADABLE_GRACE_SECONDS
    if info.get("host") == _host():
        if info.get("pid") == os.getpid():
            # Ours: stale once the saver holding it is gone without releasing it.
            return not any(c.writer_id == info.get("writer") for c in list(_HELD))
        return not _pid_alive(info.get("pid"))
    return now - mtime > FOREIGN_STALE_SECONDS


def held_by_this_process(info) -> bool:
    return bool(info) and info.get("host") == _host() and info.get("pid") == os.getpid()


def describe_holder(info) -> str:
    if not info:
        return "an unknown writer (its claim file is unreadable)"
    started = info.get("time")
    when = (time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(started))
            if isinstance(started, (int, float)) else "?")
    return (f"writer {info.get('writer')} (pid {info.get('pid')} on {info.get('host')}, "
            f"since {when})")


def _create_exclusive(path: str, text: str) -> bool:
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return False
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)
    return True


# Claims this process holds now; a claim whose saver was dropped without closing goes with it.
_HELD = weakref.WeakSet()


def held_here() -> int:
    """How many claims this process holds now."""
    return len(_HELD)


class Claim:
    """An exclusive claim on one data folder, held by one writer."""

    def __init__(self, path: str, writer_id: str):
        self.path = path
        self.writer_id = writer_id
        # True when a dead writer's claim was broken to get this one: only then can its
        # leftovers (a temp folder, a '.replaced-' copy) lie beside the folder
        self.took_over_stale = False
        self.held = False

    @classmethod
    def acquire(cls, folder: str, writer_id: str, key_name: str = ""):
        """(Claim, None) if this writer now holds the folder's claim, else (None, holder
        info) for the live writer that holds it. Stale claims are taken over."""
        path = claim_path(folder)
        record = json.dumps({"writer": writer_id, "pid": os.getpid(), "host": _host(),
                             "time": time.time(), "key": key_name})
        took_over = False
        for _ in range(10):
            if _create_exclusive(path, record):
                claim = cls(path, writer_id)
                claim.held = True
                claim.took_over_stale = took_over
                _HELD.add(claim)
                return claim, None
            found = read_claim(path)
            if found is None:          # released in between: try again
                continue
            info, mtime = found
            if not is_stale(info, mtime):
                return None, info
            _break_stale(path, info)
            took_over = True
        found = read_claim(path)
        return None, found[0] if found else None

    def refresh(self):
        """Show other hosts this writer is alive (they judge claims by their age)."""
        try:
            os.utime(self.path)
        except OSError:
            pass

    def still_ours(self) -> bool:
        found = read_claim(self.path)
        return bool(found and found[0] and found[0].get("writer") == self.writer_id)

    def release(self):
        if not self.held:
            return
        self.held = False
        _HELD.discard(self)
        if self.still_ours():
            try:
                os.remove(self.path)
            except FileNotFoundError:
                pass


def _break_stale(path: str, stale_info):
    """Remove a stale claim, unless it changed hands since it was judged stale."""
    breaker = path + BREAK_SUFFIX
    if not _create_exclusive(breaker, str(os.getpid())):
        try:
            if time.time() - os.stat(breaker).st_mtime > BREAK_STALE_SECONDS:
                os.remove(breaker)    # its maker died while breaking; rare, so a retry will do
        except FileNotFoundError:
            pass
        time.sleep(0.01)
        return
    try:
        found = read_claim(path)
        if found is not None:
            info, mtime = found
            same = (info or {}).get("writer") == (stale_info or {}).get("writer")
            if same and is_stale(info, mtime):
                os.remove(path)
    finally:
        try:
            os.remove(breaker)
        except FileNotFoundError:
            pass


def wait_for_release(path: str, timeout: float, poll: float = 0.05) -> str:
    """Wait until the claim at `path` is gone or stale: 'released', 'stale' or 'timeout'."""
    deadline = time.monotonic() + timeout
    while True:
        found = read_claim(path)
        if found is None:
            return "released"
        if is_stale(*found):
            return "stale"
        if time.monotonic() >= deadline:
            return "timeout"
        time.sleep(poll)
        poll = min(poll * 1.5, 1.0)
