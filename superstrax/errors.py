"""Exceptions users can catch. One module so every layer raises the same classes."""


class SuperstraxError(Exception):
    """Base class of superstrax's own errors."""


class DataNotAvailable(SuperstraxError):
    """Data is neither stored in any frontend nor allowed to be made."""


class DataExistsError(SuperstraxError):
    """Data is already stored where a write was requested."""

    def __init__(self, at, message=""):
        super().__init__(message or f"Data already exists at {at}")
        self.at = at


class DataCorrupted(SuperstraxError):
    """Stored data cannot be read back as its metadata describes."""


class DataFileMissing(DataCorrupted, FileNotFoundError):
    """A chunk file that the metadata lists is not in its folder. A FileNotFoundError too,
    as strax's reading raises one, so code that catches that keeps working."""


class RunMetadataNotAvailable(SuperstraxError):
    """No frontend holds a run document for the run."""


class InvalidConfiguration(SuperstraxError):
    """A plugin option or context option has an unusable value."""


class InvalidConfigMode(InvalidConfiguration, RuntimeError):
    """set_config / set_context_config got a mode other than update, setdefault or replace
    (a RuntimeError too, as strax raises)."""


CONFIG_MODES = ("update", "setdefault", "replace")


def check_config_mode(mode, method):
    if mode not in CONFIG_MODES:
        raise InvalidConfigMode(f"{method} mode must be update, setdefault or replace, got "
                                f"{mode!r}")


class CannotSplit(SuperstraxError):
    """A chunk cannot be split at the requested time without cutting a row."""


class ChunkError(SuperstraxError, ValueError):
    """A chunk breaks an invariant: bounds, time order, dtype or continuity."""


class NoInputChunks(ChunkError, RuntimeError):
    """A plugin's inputs gave no chunk at all, so there is no time span to compute over.
    Also a RuntimeError: strax raises ValueError or RuntimeError here, by processor."""


class PluginError(SuperstraxError):
    """A plugin returned something that does not match what it declares."""


class CannotMergeKinds(PluginError, RuntimeError):
    """Targets of different data kinds were asked for as one result (rows of different kinds
    cannot be joined). A RuntimeError too, as strax raises one."""


class PluginGaveWrongOutput(PluginError, ValueError):
    """A plugin's compute returned something other than its declared outputs (strax's name)."""


class SuperrunError(SuperstraxError, ValueError):
    """A superrun definition is invalid (names, overlaps, cycles, ranges)."""


class InvalidName(SuperstraxError, ValueError):
    """A run id, superrun name or data type breaks a naming rule (superstrax.naming)."""


class InvalidSuperrunName(InvalidName, SuperrunError):
    """A superrun name breaks a naming rule; also a SuperrunError, as it always was."""


class StorageError(SuperstraxError, OSError):
    """The storage could not be read or written (permissions, a full disk, a path that is not
    what it should be): the data itself is not known to be damaged."""


class InvalidArgument(InvalidConfiguration, ValueError):
    """An argument of a call (run id, data type, time range, ...) has an unusable value."""


class IntervalError(SuperstraxError, ValueError):
    """Interval data does not meet what an interval algorithm needs (time order, length >= 0)."""


class AlgorithmNotAvailable(SuperstraxError, NotImplementedError):
    """A strax physics algorithm (hit finding, peak building or splitting, ...) that superstrax
    does not implement yet."""


class PerChunkNotSupported(InvalidArgument, NotImplementedError):
    """chunk_number= asks for per-chunk processing through a plugin that needs data across
    chunk boundaries (LoopPlugin, OverlapWindowPlugin). A ValueError, as strax raises, and a
    NotImplementedError."""


class RunsFailed(SuperstraxError):
    """Some runs of a parallel make failed; the others were made and stored.

    `failures` maps each failed run id to why it failed (its error, or that its worker died).
    """

    def __init__(self, failures, targets=(), done=()):
        self.failures = dict(failures)
        self.done = list(done)
        self.targets = tuple(targets)
        what = "+".join(targets) if targets else "the targets"
        lines = [f"{len(self.failures)} run(s) failed while making {what} "
                 f"({len(self.done)} made and stored):"]
        for run_id, why in self.failures.items():
            lines.append(f"  run {run_id}: {why}")
        lines.append("Nothing partial of the failed runs is kept: fix the cause and call make "
                     "again; runs already stored are not made twice.")
        super().__init__("\n".join(lines))

    def __reduce__(self):
        return (type(self), (self.failures, self.targets, self.done))


class UnknownDataType(DataNotAvailable, KeyError):
    """No registered plugin provides the data type. A KeyError too, as strax's registry
    lookup raises one."""

    def __str__(self):  # KeyError would show the message quoted
        return str(self.args[0]) if self.args else ""


class InvalidFolderNameFormat(SuperstraxError):
    """A folder name that is not '<run id>-<data type>-<lineage hash>'. strax raises it inside
    its DataDirectory (and catches it there); superstrax's frontends skip such folders without
    it, so it is here for code that raises or catches strax's name."""


class EmptyDataWarning(UserWarning):
    """strax's warning class for data with no rows; strax itself never issues it, nor does
    superstrax (it is here so that code filtering it keeps working)."""
