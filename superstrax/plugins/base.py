"""Plugin: turns synchronised input chunks into output chunks of declared types."""
import inspect
import logging
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping  # noqa: F401 (hook annotations)
from enum import IntEnum

import numpy as np
from immutabledict import immutabledict

from ..chunk import Chunk, DEFAULT_CHUNK_SIZE_MB
from ..config import Config
from ..errors import PluginError, PluginGaveWrongOutput
from ..hashing import deterministic_hash
from ..validation import check_output_rows
from ..utils import camel_to_snake   # strax's rule, one home for it


class SaveWhen(IntEnum):
    """When a plugin's output is written to storage."""
    NEVER = 0
    EXPLICIT = 1   # only when named in save=...
    TARGET = 2     # when it is a requested target
    ALWAYS = 3


class _NoInferDtype(PluginError, RuntimeError):
    """Raised by the default infer_dtype: the class attribute `dtype` is used instead."""


def as_str_tuple(x):
    if x is None:
        return ()
    if isinstance(x, str):
        return (x,)
    return tuple(x)


_BASES_PACKAGE = __name__.rpartition(".")[0]     # superstrax.plugins


def _code_fingerprint(value):
    """A reproducible stand-in for a class attribute: for a function its compiled code (not
    its source text, which a worker process that got the class by value cannot read), else
    the value's own hash, else the hash of its repr (its type's name, for a repr holding a
    memory address)."""
    if isinstance(value, (classmethod, staticmethod)):
        value = value.__func__
    if isinstance(value, property):
        value = value.fget
    code = getattr(value, "__code__", None)
    if code is not None:
        return deterministic_hash(_code_parts(code))
    if inspect.isclass(value):
        return f"{value.__module__}.{value.__qualname__}"
    try:
        return deterministic_hash(value)
    except TypeError:
        text = repr(value)
        if "0x" in text:
            kind = type(value)
            return f"{kind.__module__}.{kind.__qualname__}"
        return deterministic_hash(text)


def _code_parts(code):
    """What a code object does, without where it was written (file, line numbers)."""
    consts = [_code_parts(c) if hasattr(c, "co_code")
              else sorted(map(repr, c)) if isinstance(c, frozenset)   # `x in {...}`: no order
              else repr(c) for c in code.co_consts]
    return [code.co_code.hex(), consts, list(code.co_names), list(code.co_varnames)]


class Plugin:
    """Base of all plugins. Subclasses set class attributes and implement compute()."""

    __version__ = "0.0.0"
    provides = None            # str or tuple of str; default: class name in snake_case
    depends_on = ()            # data types this plugin reads
    data_kind = None           # str, or dict data_type -> kind for multi-output plugins
    dtype = None               # dtype spec, dict per output, or infer_dtype()
    compressor = "blosc"
    save_when = SaveWhen.ALWAYS
    rechunk_on_save = True
    rechunk_on_load = False
    chunk_target_size_mb = DEFAULT_CHUNK_SIZE_MB
    chunk_source_size_mb = DEFAULT_CHUNK_SIZE_MB
    allow_superrun = False
    parallel = False
    child_plugin = False
    input_timeout = 80
    max_messages = None              # strax executor setting; accepted, no effect here
    clean_chunk_after_compute = False
    gc_collect_after_compute = False
    chunk_number = None              # chunks selected with chunk_number= (strax)
    compute_takes_chunk_i = False    # found from compute's signature
    compute_takes_start_end = False
    takes_config = immutabledict()

    # --- class-level description, usable before an instance exists --------------------------
    @classmethod
    def provides_tuple(cls):
        if cls.provides is None:
            return (camel_to_snake(cls.__name__),)
        return as_str_tuple(cls.provides)

    @classmethod
    def depends_on_tuple(cls):
        return as_str_tuple(cls.depends_on)

    @classmethod
    def version(cls):
        """The plugin's version; with `__version__ = None` (a plugin under development, as
        strax allows) 'auto_<hash of the plugin's code>', so editing it changes its lineage.
        The hash is of compiled code, so it may change with the Python version."""
        if cls.__version__ is None:
            return cls._auto_version()
        return str(cls.__version__)

    @classmethod
    def _auto_version(cls):
        # What the plugin's author wrote: attributes of the classes of its MRO that are not
        # superstrax's plugin bases (their code changes with superstrax releases, not with the
        # plugin). Options enter the lineage anyway; dunders (names, docs) do not count.
        parts = {}
        for klass in cls.__mro__:
            if klass is object or klass.__module__.startswith(_BASES_PACKAGE):
                continue
            for name, value in vars(klass).items():
                if name.startswith("__") or name in parts or name in cls.takes_config \
                        or name in ("takes_config", "version", "_auto_version"):
                    continue
                parts[name] = _code_fingerprint(value)
        return "auto_" + deterministic_hash(parts)

    @classmethod
    def kind_of(cls, data_type):
        if isinstance(cls.data_kind, Mapping):
            return cls.data_kind[data_type]
        if cls.data_kind is None:
            provides = cls.provides_tuple()
            if len(provides) > 1:
                raise PluginError(f"{cls.__name__} provides several types; data_kind must be a dict")
            # As in strax: without a declared kind, a plugin's output is of the kind of its
            # first input (the context resolves that); a source's kind is its data type.
            return None if cls.depends_on_tuple() else provides[0]
        return cls.data_kind

    def output_kind(self, data_type):
        """The kind of one output of this set-up instance (inherited kinds resolved)."""
        kinds = getattr(self, "_kinds", None)
        if kinds and data_type in kinds:
            return kinds[data_type]
        return self.kind_of(data_type)

    @classmethod
    def save_when_for(cls, data_type):
        if isinstance(cls.save_when, Mapping):
            return SaveWhen(cls.save_when.get(data_type, SaveWhen.ALWAYS))
        return SaveWhen(cls.save_when)

    @classmethod
    def can_rechunk(cls, data_type):
        if isinstance(cls.rechunk_on_save, Mapping):
            return bool(cls.rechunk_on_save.get(data_type, True))
        return bool(cls.rechunk_on_save)

    # --- instance life cycle -----------------------------------------------------------------
    def __init__(self):
        self.provides = self.provides_tuple()
        self.depends_on = self.depends_on_tuple()
        twice = sorted(d for d, n in Counter(self.depends_on).items() if n > 1)
        if twice:
            raise PluginError(f"{self.__class__.__name__} depends on {twice} more than once; "
                              f"list each data type once in depends_on")
        if not isinstance(self.save_when, (int, Mapping)):
            raise PluginError(f"{self.__class__.__name__}.save_when must be a SaveWhen or an "
                              f"immutabledict of one per data type, got {self.save_when!r}")
        if not isinstance(self.save_when, Mapping):
            # As strax: an instance holds one setting per output.
            self.save_when = immutabledict.fromkeys(self.provides, self.save_when)
        self.config = {}
        self.deps = {}
        self.run_id = None
        self.lineage = None
        self.input_buffer = {}
        self._dtypes = None
        params = list(inspect.signature(self.compute).parameters)
        self.compute_takes_chunk_i = "chunk_i" in params
        self.compute_takes_start_end = "start" in params
        if self.compute_takes_start_end and "end" not in params:
            raise PluginError(f"compute of {self.__class__.__name__} takes start, so it must "
                              f"take end as well")
        self.compute_pars = [p for p in params if p not in ("chunk_i", "start", "end")]

    def __getattr__(self, name):
        # Only reached when normal lookup fails: options declared with takes_config(Option)
        # read as attributes, like Config-declared ones (strax allows both).
        config = self.__dict__.get("config")
        if config is not None and name in config and name in type(self).takes_config:
            option = type(self).takes_config[name]
            if isinstance(option, Config):
                # A Config is a descriptor, so we only get here when its fetch raised
                # AttributeError (straxen's URLConfig offline: no database). As strax, fetch
                # again so that error surfaces, instead of handing out the unresolved URL.
                return option.__get__(self, type(self))
            return config[name]
        raise AttributeError(f"{self.__class__.__name__} has no attribute {name!r}")

    @property
    def multi_output(self):
        return len(self.provides) > 1

    @property
    def log(self) -> logging.Logger:
        """The plugin's logger, named after its class as in strax."""
        return logging.getLogger(self.__class__.__name__)

    @property
    def is_superrun(self) -> bool:
        return str(self.run_id).startswith("_")

    @property
    def first_chunk(self) -> int:
        if self.compute_takes_chunk_i and self.chunk_number:
            return self.chunk_number[0]
        return 0

    def setup(self) -> None:
        """Hook run once the config, dependencies and dtype are known (before computing)."""

    def infer_dtype(self) -> "np.typing.DTypeLike | dict[str, np.typing.DTypeLike]":
        """Output dtype(s), used instead of the class attribute `dtype` when implemented."""
        raise _NoInferDtype(f"{self.__class__.__name__} does not implement infer_dtype()")

    def fix_dtype(self):
        """Set self.dtype to the numpy dtype (a dict of them for several outputs), as strax.

        infer_dtype() comes first (a RuntimeError from it means 'use the dtype attribute').
        """
        from ..dtypes import to_numpy_dtype
        try:
            spec = self.infer_dtype()
        except RuntimeError:
            spec = self.dtype
            if spec is None:
                raise PluginError(f"{self.__class__.__name__} sets no dtype and does not "
                                  f"implement infer_dtype()") from None
        if self.multi_output:
            if not isinstance(spec, Mapping):
                raise PluginError(f"{self.__class__.__name__} provides {self.provides}; "
                                  f"its dtype must be a dict keyed by data type")
            missing = [d for d in self.provides if d not in spec]
            if missing:
                raise PluginError(f"{self.__class__.__name__}: dtype gives no dtype for {missing}")
            dtypes = {d: to_numpy_dtype(spec[d]) for d in self.provides}
        else:
            if isinstance(spec, Mapping):
                spec = spec[self.provides[0]]
            dtypes = {self.provides[0]: to_numpy_dtype(spec)}
        for d, dt in dtypes.items():
            names = dt.names or ()
            if "time" not in names or not ("endtime" in names or ("length" in names and "dt" in names)):
                raise PluginError(f"{self.__class__.__name__}: dtype of {d} needs a 'time' field and "
                                  f"either 'endtime' or 'length' and 'dt'")
        self._dtypes = dtypes
        self.dtype = dict(dtypes) if self.multi_output else dtypes[self.provides[0]]
        kinds = getattr(self, "_kinds", None)
        if kinds:
            # Inherited kinds resolved by the context, so data_kind reads as in strax.
            self.data_kind = (immutabledict({d: kinds[d] for d in self.provides})
                              if self.multi_output else kinds[self.provides[0]])

    _resolve_dtypes = fix_dtype

    def dtype_for(self, data_type):
        if self._dtypes is None:
            self.fix_dtype()
        if not self.multi_output:
            # As strax: a plugin of one output gives its dtype whatever name is asked for
            # (straxen's PeaksHighEnergy asks the plugin of peaklets_he for 'peaklets').
            return self._dtypes[self.provides[0]]
        try:
            return self._dtypes[data_type]
        except KeyError:
            raise PluginError(f"{self.__class__.__name__} provides {self.provides}, not "
                              f"{data_type!r}") from None

    def data_kind_for(self, data_type):
        if data_type not in self.provides:
            raise PluginError(f"{self.__class__.__name__} provides {self.provides}, not "
                              f"{data_type!r}")
        return self.output_kind(data_type)

    def empty_result(self):
        """No rows, in the output dtype(s): what compute returns when there is nothing."""
        if self.multi_output:
            return {d: np.empty(0, self.dtype_for(d)) for d in self.provides}
        return np.empty(0, self.dtype_for(self.provides[0]))

    def metadata(self, run_id, data_type):
        """The metadata strax stores with one output (dtype as a numpy dtype)."""
        from ..hashing import deterministic_hash
        if data_type not in self.provides:
            raise PluginError(f"{self.__class__.__name__} provides {self.provides}, not "
                              f"{data_type!r}")
        return dict(run_id=run_id, data_type=data_type, data_kind=self.data_kind_for(data_type),
                    dtype=self.dtype_for(data_type),
                    lineage_hash=deterministic_hash(self.lineage), compressor=self.compressor,
                    lineage=self.lineage, chunk_target_size_mb=self.chunk_target_size_mb)

    def dependencies_by_kind(self):
        """{kind: [data types]} of the dependencies, in depends_on order."""
        result = {}
        for d in self.depends_on:
            dep = self.deps.get(d)
            kind = dep.data_kind_for(d) if dep is not None else d
            result.setdefault(kind, []).append(d)
        return result

    # --- computing ---------------------------------------------------------------------------
    def compute(self, **kwargs) -> "np.ndarray | dict[str, np.ndarray] | Chunk":
        raise NotImplementedError

    def is_ready(self, chunk_i: int) -> bool:
        return True

    def source_finished(self) -> bool:
        raise PluginError(f"{self.__class__.__name__} depends on nothing, so it is a source plugin "
                          f"and must implement source_finished()")

    def cleanup(self, wait_for=None) -> None:
        """Hook called after the last chunk."""

    def chunk(self, *, start, end, data, data_type=None, run_id=None, subruns=None):
        """Wrap data in a Chunk of one of this plugin's outputs (source plugins return these)."""
        if data_type is None:
            if self.multi_output:
                raise PluginError(f"{self.__class__.__name__}.chunk() needs data_type= "
                                  f"because the plugin provides {self.provides}")
            data_type = self.provides[0]
        return Chunk(data_type=data_type, data_kind=self.output_kind(data_type),
                     dtype=self.dtype_for(data_type), run_id=run_id or self.run_id,
                     start=start, end=end, data=data, subruns=subruns,
                     target_size_mb=self.chunk_target_size_mb)

    def iter_outputs(self, steps: "Iterable[dict[str, Chunk]]") -> "Iterator[dict[str, Chunk]]":
        """Consume synchronised input steps ({kind: Chunk}); yield {data_type: Chunk}.

        Source plugins (no dependencies) get no steps and produce chunks until finished.
        """
        if not self.depends_on:
            yield from self._iter_source()
            return
        # chunk_number= (per-chunk processing): chunk_i counts from the first selected chunk
        for chunk_i, inputs in enumerate(steps, start=self.first_chunk):
            yield from self._compute_step(chunk_i, inputs)

    def _compute_step(self, chunk_i, inputs):
        """The outputs ({data_type: Chunk}) of one synchronised input step: one here."""
        yield self.do_compute(chunk_i=chunk_i, **inputs)

    def _iter_source(self):
        chunk_i, waited = 0, 0.0
        self._source_ends = {}      # per output: where the last chunk ended (a new stream)
        while True:
            if self.is_ready(chunk_i):
                if self.compute_takes_chunk_i:
                    result = self.compute(chunk_i=chunk_i)
                else:
                    result = self.compute()
                yield from self._source_outputs(result)
                chunk_i, waited = chunk_i + 1, 0.0
            elif self.source_finished():
                # As strax: not ready and finished means there is no chunk chunk_i (asking
                # is_ready again would break sources whose is_ready has side effects).
                return
            else:
                if waited > self.input_timeout:
                    raise PluginError(
                        f"{self.__class__.__name__} (run {self.run_id}): chunk {chunk_i} was not "
                        f"ready after {self.input_timeout} s and the source is not finished")
                time.sleep(0.05)
                waited += 0.05

    def _source_outputs(self, result):
        yield self._fix_source_output(result)

    def _fix_source_output(self, result):
        if isinstance(result, Chunk):
            result = {result.data_type: result}
        if not isinstance(result, dict) or not all(isinstance(c, Chunk) for c in result.values()):
            raise PluginGaveWrongOutput(
                f"{self.__class__.__name__} (run {self.run_id}) is a source plugin; its compute() "
                f"must return self.chunk(start=..., end=..., data=...) (or a dict of them), "
                f"got {type(result).__name__}")
        if set(result) != set(self.provides):
            raise PluginGaveWrongOutput(f"{self.__class__.__name__} (run {self.run_id}) returned "
                              f"{sorted(result)} but provides {self.provides}")
        out = {d: self._as_chunk(d, c, c.start, c.end, c.subruns) for d, c in result.items()}
        return {d: self._close_source_gap(d, c) for d, c in out.items()}

    def _close_source_gap(self, data_type, chunk):
        """A source chunk starting after the previous one ended is widened back to that end.

        Sources often bound a chunk by its rows (first time, last endtime), which leaves gaps
        between chunks. No row can lie in such a gap, so claiming it for the later chunk
        changes no data and makes the stream continuous, as every stream here is (strax
        absorbs such gaps in the input buffers of the plugins reading the source).
        Overlaps are left for the continuity check to refuse.
        """
        ends = self.__dict__.setdefault("_source_ends", {})
        prev_end = ends.get(data_type)
        if prev_end is not None and chunk.start > prev_end and not chunk.subruns:
            chunk = chunk._replace(start=prev_end)
        ends[data_type] = chunk.end
        return chunk

    def _compute_arguments(self, chunk_i, kwargs):
        """compute()'s arguments for input chunks {kind: Chunk}; also their start, end, subruns."""
        if not kwargs:
            raise PluginGaveWrongOutput(f"{self.__class__.__name__}: do_compute got no inputs")
        first = next(iter(kwargs.values()))
        start, end, subruns = first.start, first.end, first.subruns
        arguments = {kind: chunk.data for kind, chunk in kwargs.items()}
        if self.compute_takes_chunk_i:
            arguments["chunk_i"] = chunk_i
        if self.compute_takes_start_end:
            arguments["start"], arguments["end"] = start, end
        return arguments, start, end, subruns

    def do_compute(self, chunk_i=None, **kwargs):
        if not kwargs and not self.depends_on:
            # A source computes chunk chunk_i from nothing (strax lets one call this directly).
            result = self.compute(chunk_i=chunk_i) if self.compute_takes_chunk_i \
                else self.compute()
            return self._fix_source_output(result)
        arguments, start, end, subruns = self._compute_arguments(chunk_i, kwargs)
        result = self.compute(**arguments)
        return self._fix_output(result, start, end, subruns)

    def _fix_output(self, result, start, end, subruns=None):
        if self.multi_output:
            if not isinstance(result, dict) or set(result) != set(self.provides):
                got = sorted(result) if isinstance(result, dict) else type(result).__name__
                raise PluginGaveWrongOutput(f"{self.__class__.__name__} (run {self.run_id}) must return a dict "
                                  f"with keys {self.provides}, got {got}")
            return {d: self._as_chunk(d, r, start, end, subruns) for d, r in result.items()}
        if isinstance(result, dict) and set(result) == set(self.provides):
            result = result[self.provides[0]]
        return {self.provides[0]: self._as_chunk(self.provides[0], result, start, end, subruns)}

    def _as_chunk(self, data_type, result, start, end, subruns):
        expected = self.dtype_for(data_type)
        if isinstance(result, Mapping):
            result = self._fields_to_rows(data_type, result, expected)
        # (not getattr(result, "data"): an ndarray's .data is a memoryview, so plain arrays
        # were never checked, and the buffer export made numpy keep a format string of the
        # dtype alive with every output array)
        check_output_rows(result.data if isinstance(result, Chunk) else result, self, data_type)
        if isinstance(result, Chunk):
            if result.dtype != expected:
                self._wrong_dtype(data_type, result.dtype, expected)
            return result
        if not isinstance(result, np.ndarray):
            raise PluginGaveWrongOutput(f"{self.__class__.__name__} (run {self.run_id}) returned "
                              f"{type(result).__name__} for {data_type}; expected a numpy array")
        if result.dtype != expected:
            if result.dtype.names and set(result.dtype.names) == set(expected.names or ()) \
                    and all(result.dtype[n] == expected[n] for n in expected.names):
                # Same fields in another order or with other titles: copy into the declared layout.
                fixed = np.zeros(len(result), dtype=expected)
                for n in expected.names:
                    fixed[n] = result[n]
                result = fixed
            else:
                self._wrong_dtype(data_type, result.dtype, expected)
        return Chunk(data_type=data_type, data_kind=self.output_kind(data_type), dtype=expected,
                     run_id=self.run_id, start=start, end=end, data=result, subruns=subruns,
                     target_size_mb=self.chunk_target_size_mb)

    def _fields_to_rows(self, data_type, fields, dtype):
        """compute may return {field: values} (strax allows it): rows as many as the first
        field has, the other fields broadcast into them as numpy does (so a length-1 field
        fills every row)."""
        unknown = sorted(set(fields) - set(dtype.names or ()))
        if unknown:
            raise PluginGaveWrongOutput(
                f"{self.__class__.__name__} (run {self.run_id}) returned fields {unknown} for "
                f"{data_type}, which its dtype does not have ({list(dtype.names)})")
        if not fields:
            return np.zeros(0, dtype)
        rows = np.zeros(len(next(iter(fields.values()))), dtype)
        for name, values in fields.items():
            try:
                rows[name] = values
            except ValueError as e:
                raise PluginGaveWrongOutput(
                    f"{self.__class__.__name__} (run {self.run_id}) returned field {name} of "
                    f"{data_type} with a length that does not fit {len(rows)} rows: {e}") from None
        return rows

    def _wrong_dtype(self, data_type, got, expected):
        raise PluginGaveWrongOutput(
            f"{self.__class__.__name__} (run {self.run_id}) returned {data_type} with fields "
            f"{list(got.names or [got.str])}, but declares {list(expected.names)}; "
            f"fix the plugin's compute() or its dtype")

    def __repr__(self):
        return f"{self.__class__.__name__}(provides={self.provides}, run_id={self.run_id!r})"
