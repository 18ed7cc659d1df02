"""FileSaver: writes one key of a DataDirectory so that concurrent writers cannot collide.

1. The writer takes the key's exclusive claim (claims.py). Only the holder writes.
2. The holder writes into a temp folder unique to it, '<key>_temp-<writer id>'.
3. When complete, the temp folder is renamed to '<key>'. If '<key>' exists (a rewrite, e.g.
   rechunk, or incomplete data being made again) it is first renamed to
   '<key>.replaced-<hex>', then the new copy is renamed in, then the old copy is deleted.
   A kill between the two renames leaves '<key>.replaced-<hex>' and the killed writer's
   claim: the next writer of the key (any make or load that misses it) takes the stale claim
   over and renames the copy back before anything else (it looks for such leftovers only
   when it took a stale claim over, since looking lists the whole directory), and
   `superstrax verify` reports it meanwhile.

What a writer that does not get the claim does (its `outcome` says which case it was):
- another live writer holds it: nothing is written; the caller still gets the rows it
  computed. At close the saver waits (up to `wait_seconds`: the DataDirectory's
  `claim_wait`, default CLAIM_WAIT_SECONDS) for that writer to finish, so when `make`
  returns the data is stored. Outcome MADE_BY_OTHER; OTHER_FAILED (a warning) if the other
  writer gave up without storing it; OTHER_BUSY if it still holds the claim when the wait
  ends, and then close raises a StorageError naming the run, data type and claim file;
  there is no wait when the holder is this very process (another saver of the same key).
  The wait is put off to `settle()`, which the executor calls once every saver of its stream
  is closed (it sets `settles_later`), so that this stream's own data is committed first
  whatever the other writer does; and, while this process holds claims it has not
  committed, also for other callers (two processes could otherwise wait for each other).
- complete data is already there (made by another writer meanwhile): nothing is written,
  unless the saver was made with replace=True. Outcome ALREADY_STORED.
"""
import errno
import os
import shutil
import uuid
import warnings

from ..errors import StorageError, SuperstraxError
from .claims import (Claim, claim_path, describe_holder, held_by_this_process, held_here,
                     new_writer_id, read_claim, wait_for_release)
from .common import Saver, metadata_pieces
from .io import write_chunk_file
from .checksums import CHECKSUM_FIELD
from .layout import REPLACED_MARK, TEMP_SUFFIX, dirname_to_prefix, metadata_path, temp_folder, \
    temp_key

STORED = "stored"
ALREADY_STORED = "already stored"
RESTORED = "restored from a replaced copy"
MADE_BY_OTHER = "made by another writer"
OTHER_BUSY = "another writer is still writing"
OTHER_FAILED = "another writer did not finish"
CLAIM_LOST = "claim taken over by another writer"
FAILED = "failed"
DISCARDED = "discarded"

#: How long a writer that lost the claim waits at close for the winner to commit (seconds).
CLAIM_WAIT_SECONDS = 600.0

__all__ = ["FileSaver", "write_atomically", "is_complete", "restore_replaced", "STORED",
           "ALREADY_STORED", "RESTORED", "MADE_BY_OTHER", "OTHER_BUSY", "OTHER_FAILED",
           "CLAIM_LOST", "FAILED", "DISCARDED", "CLAIM_WAIT_SECONDS", "os_error"]


def os_error(e: OSError, what: str, where: str) -> StorageError:
    """A library error for an OS error while `what` (e.g. 'writing run 3 records')."""
    advice = {errno.ENOSPC: "the disk is full: free space there or use another storage",
              errno.EDQUOT: "the disk quota is exhausted: free space or use another storage",
              errno.ENAMETOOLONG: "the name is too long for the file system: use a shorter "
                                  "run id (or data type name)",
              errno.EACCES: "permission denied: check the permissions (the data there is "
                            "not known to be damaged)",
              errno.EPERM: "permission denied: check the permissions",
              errno.EROFS: "the file system is read-only: use another storage or "
                           "readonly=True"}.get(e.errno, "check the storage")
    err = StorageError(f"Error while {what} at {where}: {e.strerror or e}; {advice}")
    err.errno = e.errno
    return err


def write_atomically(path, text):
    """Write text (a str, or an iterable of str pieces) to path under a temporary name unique
    to this writer, then rename it to path: readers see the old file or the whole new one."""
    temp = f"{path}.{uuid.uuid4().hex[:8]}.writing"
    try:
        with open(temp, "w") as f:
            if isinstance(text, str):
                f.write(text)
            else:
                f.writelines(text)
        os.replace(temp, path)
    except BaseException:
        if os.path.exists(temp):
            os.remove(temp)
        raise


def is_complete(folder) -> bool:
    """Whether a folder holds a finished, successful write (its metadata says so)."""
    import json
    try:
        with open(metadata_path(folder)) as f:
            md = json.load(f)
    except (OSError, ValueError):
        return False
    return isinstance(md, dict) and "writing_ended" in md and "exception" not in md


def restore_replaced(folder) -> bool:
    """Rename the newest complete '<folder>.replaced-*' copy back to '<folder>' if that is
    missing (a replace was killed between its two renames). The caller holds the claim."""
    if os.path.lexists(folder):
        return False
    parent, name = os.path.split(folder)
    try:
        entries = os.listdir(parent or ".")
    except OSError:
        return False
    copies = [os.path.join(parent, e) for e in entries if e.startswith(name + REPLACED_MARK)]
    copies = [c for c in copies if is_complete(c)]
    if not copies:
        return False
    copies.sort(key=lambda c: os.stat(c).st_mtime, reverse=True)
    os.rename(copies[0], folder)
    return True


def _leftover_temps(folder, own):
    parent, name = os.path.split(folder)
    try:
        entries = os.listdir(parent or ".")
    except OSError:
        return []
    return [os.path.join(parent, e) for e in entries
            if e.startswith(name + TEMP_SUFFIX) and temp_key(e) == name
            and os.path.join(parent, e) != own]


class FileSaver(Saver):
    """Writes one data folder under the key's claim; see the module docstring."""

    compact_subruns = True      # its metadata is only ever written (metadata_pieces)

    def __init__(self, folder, metadata, replace=False, wait_seconds=CLAIM_WAIT_SECONDS):
        self.folder = os.path.normpath(folder)
        self.key_name = os.path.basename(self.folder)
        self.writer_id = new_writer_id()
        self.temp = temp_folder(self.folder, self.writer_id)
        self.prefix = dirname_to_prefix(self.folder)
        self.md_path = os.path.join(self.temp, f"{self.prefix}-metadata.json")
        self.replace = replace
        self.wait_seconds = float(wait_seconds)
        self.outcome = None
        self.passive = False        # True: this saver writes nothing (see outcome)
        self.holder = None          # claim info of the writer that holds the key instead
        self.wait_deferred = False  # close left the wait for that writer to settle()
        self.claim = None
        self._what = f"writing {metadata.get('run_id')}/{metadata.get('data_type')}"
        if os.path.lexists(self.folder) and not os.path.isdir(self.folder):
            raise StorageError(f"Cannot store {self.key_name}: {self.folder} is a file, not a "
                               f"data folder; move or delete it")
        try:
            # The directory holding the key may have been deleted since its frontend was
            # made (strax recreates it too); a directory that cannot be made (permissions,
            # a full disk) is a StorageError below.
            os.makedirs(os.path.dirname(self.folder) or ".", exist_ok=True)
            self._claim()
            if not self.passive:
                # Leftovers of a killed write lie beside the folder only when its claim was
                # left too: looking for them lists the whole directory, which for every
                # write would make filling a directory of n runs cost n^2.
                if self.claim.took_over_stale:
                    for leftover in _leftover_temps(self.folder, self.temp):
                        shutil.rmtree(leftover, ignore_errors=True)
                os.makedirs(self.temp)
        except OSError as e:
            self._release()
            raise os_error(e, self._what, self.folder) from e
        try:
            super().__init__(metadata)
        except BaseException:
            # Metadata that cannot be written: leave no folder behind for it.
            self._discard()
            self._release()
            raise

    # --- the claim ---------------------------------------------------------------------
    def _claim(self):
        self.claim, self.holder = Claim.acquire(self.folder, self.writer_id, self.key_name)
        if self.claim is None:
            self.passive = True
            self.outcome = MADE_BY_OTHER
            return
        if not self.replace and is_complete(self.folder):
            self._go_passive(ALREADY_STORED)
        elif self.claim.took_over_stale and restore_replaced(self.folder):
            self._go_passive(RESTORED)

    def _go_passive(self, outcome):
        self.passive = True
        self.outcome = outcome
        self._release()

    def _release(self):
        if self.claim is not None:
            self.claim.release()

    # --- writing -----------------------------------------------------------------------
    def _save_chunk(self, data, chunk_i):
        if self.passive:
            return None, 0
        filename = f"{self.prefix}-{chunk_i:06d}"
        path = os.path.join(self.temp, filename)
        try:
            size, checksum = write_chunk_file(path, data, self.md["compressor"])
        except FileNotFoundError as e:
            if not os.path.isdir(self.temp) and not self.claim.still_ours():
                raise StorageError(f"Cannot finish {self._what}: another writer took over "
                                   f"the claim on {self.key_name} and removed this writer's "
                                   f"temp folder") from e
            raise os_error(e, self._what, path) from e
        except OSError as e:
            raise os_error(e, self._what, path) from e
        self.claim.refresh()
        return filename, size, {CHECKSUM_FIELD: checksum}

    def _write_metadata(self):
        if self.passive:
            return
        try:
            write_atomically(self.md_path, metadata_pieces(self.md))
        except TypeError as e:
            raise SuperstraxError(
                f"Metadata of {self.md.get('run_id')}/{self.md.get('data_type')} is not plain "
                f"JSON ({e}); option values must be numbers, strings, lists, dicts or None") from e
        except OSError as e:
            raise os_error(e, self._what, self.md_path) from e

    def _discard(self):
        if not self.passive:
            shutil.rmtree(self.temp, ignore_errors=True)
            self.outcome = DISCARDED
        self._release()

    def _finish(self, failed):
        if self.passive:
            if not failed:      # a failed caller raises its own error; waiting helps nobody
                self._wait_for_holder()
            return
        try:
            if failed:
                # Kept for inspection under the temp name nothing loads from; data stored
                # before under this key is untouched. The next writer of the key removes it.
                self.outcome = FAILED
                return
            if not self.claim.still_ours():
                shutil.rmtree(self.temp, ignore_errors=True)
                self.outcome = CLAIM_LOST
                warnings.warn(f"{self.key_name}: this writer's claim was taken over (it was "
                              f"presumed dead); its copy was discarded", UserWarning)
                return
            self._commit()
        except OSError as e:
            raise os_error(e, f"committing {self.key_name}", self.folder) from e
        finally:
            self._release()

    def _commit(self):
        if os.path.lexists(self.folder):
            if not self.replace and is_complete(self.folder):
                shutil.rmtree(self.temp, ignore_errors=True)
                self.outcome = ALREADY_STORED
                return
            aside = f"{self.folder}{REPLACED_MARK}{uuid.uuid4().hex[:8]}"
            os.rename(self.folder, aside)
            os.rename(self.temp, self.folder)
            shutil.rmtree(aside, ignore_errors=True)
        else:
            try:
                os.rename(self.temp, self.folder)
            except OSError as e:
                if e.errno not in (errno.EEXIST, errno.ENOTEMPTY) or not is_complete(self.folder):
                    raise
                # A writer that takes no claims (strax) finished first.
                shutil.rmtree(self.temp, ignore_errors=True)
                self.outcome = ALREADY_STORED
                return
        self.outcome = STORED

    def settle(self) -> bool:
        """The wait close put off (see the module docstring); put off again while this
        process still holds claims (a stream inside another's): then False."""
        if self.wait_deferred and not held_here():
            self.wait_deferred = False
            self._wait_for_holder(settling=True)
        return not self.wait_deferred

    def _wait_for_holder(self, settling=False):
        if self.outcome != MADE_BY_OTHER or held_by_this_process(self.holder):
            return
        if held_here() or self.settles_later and not settling:
            # This process holds other claims it has not committed yet: waiting now could
            # wait for a writer that waits for us (two processes closing keys in different
            # orders). Only a process holding no claim waits: settle() does it later.
            self.wait_deferred = True
            return
        state = wait_for_release(claim_path(self.folder), self.wait_seconds)
        if state == "timeout":
            self.outcome = OTHER_BUSY
            path = claim_path(self.folder)
            found = read_claim(path)
            raise StorageError(
                f"run {self.md.get('run_id')} {self.md.get('data_type')} ({self.key_name}) is "
                f"still being written by {describe_holder(found[0] if found else self.holder)}, "
                f"which holds the claim {path}; this process waited {self.wait_seconds:g} s "
                f"for it to store the data, then gave up. This process computed the same data "
                f"but did not store it. Make or load it again once that writer has finished; "
                f"if it hangs, stop it (its claim is then taken over), or wait longer with "
                f"DataDirectory(..., claim_wait=<seconds>)")
        elif not is_complete(self.folder):
            self.outcome = OTHER_FAILED
            warnings.warn(f"{self.key_name}: {describe_holder(self.holder)} was making this "
                          f"data and did not finish it; this process computed it but did not "
                          f"store it. Make it again to store it", UserWarning)
