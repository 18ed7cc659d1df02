"""Planning: for (run, targets), decide what is loaded, computed, chained and saved.

A plan is a small graph of nodes. Planning reads metadata (what is stored where) but never
data; executor.py turns the graph into a stream of chunks. The planner is handed a Session.
Superruns are planned here too: their data is loaded if stored, computed over the superrun
if the plugin allows it, else chained from the subruns' data (DESIGN.md's semantics table).
"""
from __future__ import annotations

import warnings
from array import array
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Union

from .errors import CannotMergeKinds, DataNotAvailable, InvalidArgument
from .lineage import check_superrun_config
from .naming import is_superrun_id
from .plugins.base import Plugin, SaveWhen
from .storage.common import Location, parse_dtype
from .storage.keys import DataKey
from .storage.shared_metadata import MetadataPack

if TYPE_CHECKING:
    from .session import Session
    from .storage.common import StorageFrontend


# A chain of up to this many subruns keeps a node, with the metadata found while planning
# it, for each subrun. A longer chain packs its stored subruns (PackedLoads): a plan over
# 10,000 subruns that held a node and metadata per subrun held 20 MB, and the peak memory of
# a make grew with the number of subruns.
CHAIN_LOCATIONS_KEPT = 1024


@dataclass(eq=False)
class SaveTarget:
    """Where and how one stream is written."""
    key: DataKey
    frontend: StorageFrontend
    metadata: dict
    rechunk: bool
    target_size_mb: float


# A superrun's plan has a LoadNode and a SubrunPart per subrun: slots keep them small.
@dataclass(eq=False, slots=True)
class LoadNode:
    data_type: str
    key: DataKey
    frontend: StorageFrontend
    copies: list[SaveTarget] = field(default_factory=list)   # storage_converter
    # Found while planning: the plan reuses its metadata (read and checked once per call)
    location: Location | None = None
    # chunk_number=: only these stored chunks are read (None: all of them)
    chunk_numbers: tuple | None = None
    # (rows, dtype), kept when the location is let go (forget_location)
    size: tuple | None = None

    @property
    def metadata(self) -> dict:
        if self.location is not None:
            return self.location.metadata
        return self.frontend.get_metadata(self.key)

    def rows_and_dtype(self) -> tuple:
        """(rows, dtype) of what this node loads, from its metadata."""
        if self.size is not None:
            return self.size
        md = self.metadata
        rows = sum(c["n"] for i, c in enumerate(md["chunks"])
                   if self.chunk_numbers is None or c.get("chunk_i", i) in self.chunk_numbers)
        return rows, parse_dtype(md, str(self.key))

    def forget_location(self) -> None:
        """Let go of the metadata found while planning, keeping what sizing the result
        needs: the data is found again when it is read."""
        if self.size is not None or self.location is None:     # let go of already
            return
        self.size = self.rows_and_dtype()
        self.location = None

    def loader(self, time_range=None, arena=None):
        if self.location is not None:
            return self.location.chunks(time_range=time_range, arena=arena,
                                        chunk_numbers=self.chunk_numbers)
        return self.frontend.loader(self.key, time_range=time_range, arena=arena,
                                    chunk_numbers=self.chunk_numbers)


@dataclass(eq=False)
class ComputeNode:
    """One plugin instance run over its inputs; it may serve and save several outputs."""
    plugin: Plugin
    run_id: str
    inputs: dict[str, "Node"]
    saves: dict[str, list] = field(default_factory=dict)   # data type -> [SaveTarget]


@dataclass(eq=False)
class OutputNode:
    compute: ComputeNode
    data_type: str


@dataclass(eq=False, slots=True)
class SubrunPart:
    run_id: str
    ranges: tuple | None      # ((start, end), ...) in ns, or None for the whole subrun
    node: "Node"


class PackedLoads:
    """The stored subruns of one data type of a long chain, packed: what a LoadNode of each
    holds, in columns (MetadataPack for the metadata; the frontend, backend, lineage and
    folder prefix shared by the subruns that have the same). node(handle, run_id) makes the
    LoadNode again, equal to the one packed, when the chain reaches it."""

    def __init__(self, data_type):
        self.data_type = data_type
        self._metadata = MetadataPack()
        self._shared, self._shared_index = [], {}
        self._shared_of = array("l")             # per handle
        self._other_keys = {}                     # handle -> a backend key of another form

    @staticmethod
    def can_pack(node) -> bool:
        location = node.location
        return (location is not None and not node.copies and node.chunk_numbers is None
                and getattr(location.backend, "reads_packed_metadata", False)
                and not node.key.is_superrun)

    def add(self, node: LoadNode) -> int:
        """Pack node (can_pack(node)); its handle."""
        key, location = node.key, node.location
        backend_key, name = location.backend_key, str(key)
        prefix = backend_key[:-len(name)] if isinstance(backend_key, str) and \
            backend_key.endswith(name) else None
        # (the lineage hash stands for the lineage; the objects are kept alive in _shared)
        which = (id(node.frontend), id(location.backend), key.lineage_hash, prefix)
        index = self._shared_index.get(which)
        if index is None:
            index = self._shared_index[which] = len(self._shared)
            self._shared.append((node.frontend, location.backend, key.lineage,
                                 key.lineage_hash, prefix))
        handle = self._metadata.add(location.metadata)
        self._shared_of.append(index)
        if prefix is None:
            self._other_keys[handle] = backend_key
        return handle

    def size(self, handle: int, run_id: str) -> tuple:
        """(rows, dtype) of the node packed as handle, without making it."""
        return (self._metadata.rows(handle),
                parse_dtype(self._metadata.top(handle), f"{run_id}-{self.data_type}"))

    def node(self, handle: int, run_id: str) -> LoadNode:
        frontend, backend, lineage, lineage_hash, prefix = self._shared[self._shared_of[handle]]
        key = DataKey(run_id, self.data_type, lineage, lineage_hash=lineage_hash)
        backend_key = self._other_keys[handle] if prefix is None else prefix + str(key)
        return LoadNode(self.data_type, key, frontend,
                        location=Location(backend, backend_key, self._metadata.metadata(handle)))


class ChainParts(Sequence):
    """The parts of a chain in subrun order, as SubrunParts: held as they are, or (the
    stored subruns of a long chain) packed in PackedLoads and made again when reached."""

    def __init__(self, data_type):
        self._specs = []                 # SubrunSpecs (the registry holds them anyway)
        self._handles = array("q")       # a handle into _packed, or -1: held in _held
        self._held = {}
        self._packed = PackedLoads(data_type)

    def append(self, spec, node, pack=False) -> bool:
        """Add the part of spec read through node, packed if pack and it can be; whether
        it was."""
        packed = pack and PackedLoads.can_pack(node)
        if packed:
            self._handles.append(self._packed.add(node))
        else:
            self._held[len(self._specs)] = SubrunPart(spec.run_id, spec.ranges, node)
            self._handles.append(-1)
        self._specs.append(spec)
        return packed

    def __len__(self):
        return len(self._specs)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        handle = self._handles[i]
        if handle < 0:
            return self._held[i % len(self)]
        spec = self._specs[i]
        return SubrunPart(spec.run_id, spec.ranges, self._packed.node(handle, spec.run_id))

    def spec(self, i):
        """The SubrunSpec of part i (its run id and ranges), without making its node."""
        return self._specs[i]

    def sizes(self):
        """(rows, dtype) of each part that is a LoadNode, in order (packed ones from their
        columns, without making their nodes)."""
        for i, handle in enumerate(self._handles):
            if handle < 0:
                yield self._held[i].node.rows_and_dtype()
            else:
                yield self._packed.size(handle, self._specs[i].run_id)

    def held(self) -> list:
        """(index, part) of the parts held as they are, computed ones among them, in order:
        what a caller looking for those need not make every packed node for."""
        return sorted(self._held.items())

    @property
    def packed(self) -> int:
        """How many parts are packed."""
        return len(self) - len(self._held)


@dataclass(eq=False)
class ChainNode:
    """A superrun's data made by chaining its subruns' data, each cut to its ranges."""
    run_id: str
    data_type: str
    parts: ChainParts
    save: SaveTarget | None = None


@dataclass(eq=False)
class MergeNode:
    """Several targets of one data kind, joined field-wise, in the order of their sorted
    names (strax merges them so: get_array(run, ('b', 'a')) has a's fields first)."""
    run_id: str
    data_types: tuple
    inputs: dict[str, "Node"]
    kinds: dict[str, str]


@dataclass(eq=False)
class MultiNode:
    """Targets of different data kinds made in one pass (allow_multiple=True): the stream
    yields the chunks of `main`; the others are pulled alongside, so that they are made and
    saved, and dropped."""
    run_id: str
    main: str
    inputs: dict[str, "Node"]


Node = Union[LoadNode, OutputNode, ComputeNode, ChainNode, MergeNode, MultiNode]


def kinds_of(session, targets, run_id, allow_multiple=False) -> dict:
    """{target: data kind}; CannotMergeKinds if they differ and allow_multiple is not set."""
    kinds = {d: session.kind_of(d) for d in targets}
    if len(set(kinds.values())) > 1 and not allow_multiple:
        raise CannotMergeKinds(
            f"Cannot load {list(targets)} together for run {run_id}: they are of different "
            f"data kinds {kinds}. Load each kind separately, or make them in one pass with "
            f"st.make(..., allow_multiple=True)")
    return kinds


class Planner:
    """Builds the plan of one get_iter/make call. Nodes are shared within the call."""

    def __init__(self, session: Session, targets, save=(), combining=False,
                 allow_multiple=False, chunk_number=None, store=True):
        self.session = session
        self.targets = tuple(targets)
        self.save = tuple(save)
        self.combining = combining
        self.allow_multiple = allow_multiple
        self.chunk_number = chunk_number
        self.store = store      # False: the call writes nothing (strax's rule for some calls)
        self._nodes = {}
        self._computes = {}
        self._instances = {}

    # --- entry point -------------------------------------------------------------------------
    def plan(self, run_id: str) -> Node:
        if self.chunk_number is not None and is_superrun_id(run_id):
            raise InvalidArgument(
                f"chunk_number= selects chunks of a regular run's stored data; superrun "
                f"{run_id} has none of its own (as in strax). Process its subruns instead")
        if len(self.targets) == 1:
            return self.node_for(run_id, self.targets[0])
        kinds = kinds_of(self.session, self.targets, run_id, self.allow_multiple)
        if len(set(kinds.values())) > 1:
            return self._multi_node(run_id)
        merged = tuple(sorted(self.targets))
        inputs = {d: self.node_for(run_id, d) for d in merged}
        return MergeNode(run_id, merged, inputs, kinds)

    def _multi_node(self, run_id):
        """Targets of several kinds: the stream follows the first target that no other
        target is made from (the end of the chain); a stored target besides it needs
        nothing done and is left out, unless it is to be copied (storage_converter)."""
        made_from = {d: self.session.lineages.made_from(d) for d in self.targets}
        ends = [d for d in self.targets
                if not any(d in made_from[o] for o in self.targets if o != d)]
        main = (ends or list(self.targets))[0]
        inputs = {}
        for d in self.targets:
            node = self.node_for(run_id, d)
            if d != main and isinstance(node, LoadNode) and not node.copies:
                continue
            inputs[d] = node
        return MultiNode(run_id, main, inputs)

    def node_for(self, run_id: str, data_type: str) -> Node:
        cache_key = (run_id, data_type)
        if cache_key not in self._nodes:
            if is_superrun_id(run_id):
                node = self._superrun_node(run_id, data_type)
            else:
                node = self._regular_node(run_id, data_type)
            self._nodes[cache_key] = node
        return self._nodes[cache_key]

    # --- regular runs ------------------------------------------------------------------------
    def _regular_node(self, run_id, data_type):
        key = self.session.key_for(run_id, data_type, chunk_number=self.chunk_number)
        found = self.session.locate(key)
        selected = (self.chunk_number or {}).get(data_type)
        if found is not None:
            node = self.load_node(data_type, key, *found)
            if selected is not None:
                stored = [c.get("chunk_i", i) for i, c in enumerate(node.metadata["chunks"])]
                missing = [c for c in selected if c not in stored]
                if missing:
                    raise InvalidArgument(
                        f"chunk_number={{{data_type!r}: {list(selected)}}}: {data_type} of run "
                        f"{run_id} has chunks 0 to {len(stored) - 1}, not {missing}")
                node.chunk_numbers = tuple(selected)
                node.copies = []     # a copy of some chunks would pass for the whole data
            return node
        if selected is not None and data_type in self.targets:
            # As strax: a target's own chunk numbers select chunks of stored data; made
            # afresh it is made whole (its key does not depend on them).
            warnings.warn(f"chunk_number= names chunks of {data_type} for run {run_id}, which "
                          f"is not stored: it is made whole", UserWarning, stacklevel=2)
        elif selected is not None:
            raise DataNotAvailable(
                f"chunk_number={{{data_type!r}: {list(selected)}}} selects stored chunks of "
                f"{data_type} for run {run_id}, but {data_type} is not stored ({key}). Make it "
                f"first: st.make({run_id!r}, {data_type!r})")
        return self.compute_output(run_id, data_type)

    def load_node(self, data_type, key, frontend, location=None):
        """Load stored data; with storage_converter, also copy it to writable frontends
        that lack it (only whole loads are copied, so a copy is never partial)."""
        node = LoadNode(data_type, key, frontend, location=location)
        if not self.store or not self.session.option("storage_converter"):
            return node
        for fe in self.session.frontends_for(key):
            if fe is frontend or fe.readonly or fe.is_stored(key):
                continue
            if key.is_superrun and not self.session.option("write_superruns"):
                continue
            md = {k: v for k, v in node.metadata.items()
                  if k not in ("chunks", "start", "end", "writing_started", "writing_ended")}
            node.copies.append(SaveTarget(key, fe, md, False, md.get("chunk_target_size_mb", 200)))
        return node

    def compute_output(self, run_id, data_type):
        """An OutputNode for data_type, computed by its plugin over run_id's inputs."""
        cls = self.session.plugin_class(data_type, run_id)
        forbidden = self.session.option("forbid_creation_of") or ()
        if isinstance(forbidden, str):
            forbidden = (forbidden,)
        if data_type in forbidden or "*" in forbidden:     # '*': nothing may be made (strax)
            raise DataNotAvailable(
                f"{data_type} for run {run_id} is not stored, and the context forbids creating "
                f"it (forbid_creation_of={tuple(forbidden)}). Make it with a context that may, "
                f"or add the storage that holds it")
        compute_key = (run_id, cls)
        if compute_key not in self._computes:
            if is_superrun_id(run_id):
                check_superrun_config(cls, self.session.lineages.config_for(cls, run_id), run_id)
            plugin = self.session.make_plugin(cls, run_id, self._instances)
            if self.chunk_number is not None:
                self.session.assign_chunk_number(plugin, run_id, self.chunk_number)
            inputs = {d: self.node_for(run_id, d) for d in plugin.depends_on}
            node = ComputeNode(plugin, run_id, inputs)
            for d in plugin.provides:
                if d != data_type and self.session.find_frontend(
                        self.session.key_for(run_id, d, chunk_number=self.chunk_number)) \
                        is not None:
                    # Another output of a multi-output plugin, stored already: as strax,
                    # leave it as it is rather than write it again.
                    continue
                targets = self.save_targets(run_id, d, cls, plugin)
                if targets:
                    node.saves[d] = targets
            self._computes[compute_key] = node
        return OutputNode(self._computes[compute_key], data_type)

    def wants_saved(self, cls, data_type):
        if not self.store:
            return False
        when = cls.save_when_for(data_type)
        if when == SaveWhen.NEVER:
            if data_type in self.save:
                # asked for something that will not happen: say so rather than not save
                raise InvalidArgument(
                    f"save={data_type!r}: {cls.__name__} never saves {data_type} (save_when "
                    f"is SaveWhen.NEVER); leave it out of save=")
            return False
        if when == SaveWhen.EXPLICIT:
            return data_type in self.save
        if when == SaveWhen.TARGET:
            return data_type in self.targets or data_type in self.save
        return True

    def save_targets(self, run_id, data_type, cls, plugin, rechunk=None):
        """A SaveTarget per frontend newly computed data_type is written to (strax writes it
        to every writable frontend that can hold it); [] when it is not saved."""
        if not self.wants_saved(cls, data_type):
            return []
        key = self.session.key_for(run_id, data_type, combining=False,
                                   chunk_number=self.chunk_number)
        frontends = self.session.writable_frontends(key)
        if not frontends:
            return []
        if rechunk is None:
            rechunk = cls.can_rechunk(data_type) and self.session.option("allow_rechunk")
        metadata = self.session.data_metadata(key, cls, plugin.dtype_for(data_type), run_id)
        return [SaveTarget(key, fe, dict(metadata), bool(rechunk), cls.chunk_target_size_mb)
                for fe in frontends]

    # --- superruns ---------------------------------------------------------------------------
    def _superrun_node(self, superrun_id, data_type):
        """Stored superrun data; else computed over the superrun (allow_superrun); else its
        subruns' data chained, each cut to its ranges (always so with combining=True)."""
        session = self.session
        cls = session.plugin_class(data_type, superrun_id)
        key = session.key_for(superrun_id, data_type, combining=self.combining)
        if not self.combining:
            found = session.locate(key)
            if found is not None:
                return self.load_node(data_type, key, *found)
            if cls.allow_superrun:
                return self.compute_output(superrun_id, data_type)
        specs = session.runs.subrun_specs(superrun_id)
        long_chain = len(specs) > CHAIN_LOCATIONS_KEPT
        parts = ChainParts(data_type)
        for s in specs:
            node = self.node_for(s.run_id, data_type)
            if parts.append(s, node, pack=long_chain):
                # the plan holds it packed only; a later chain finds it again
                self._nodes.pop((s.run_id, data_type), None)
            elif long_chain and isinstance(node, LoadNode):
                node.forget_location()
        save = None
        # Chained data is only a copy of what the subruns hold: it is stored for the superrun
        # when asked for (a target, or named in save=), never as a mere input of another plugin.
        asked = data_type in self.targets or data_type in self.save
        if not self.combining and asked and self.wants_saved(cls, data_type):
            frontend = session.writable_frontend(key)
            if frontend is not None:
                dtype = self._chained_dtype(superrun_id, data_type, parts)
                metadata = session.data_metadata(key, cls, dtype, superrun_id)
                # Chained subrun chunks are small and many, so they are rechunked even for
                # plugins that do not rechunk their own output (as the tutorial shows),
                # unless the context forbids rechunking altogether.
                rechunk = bool(session.option("allow_rechunk"))
                save = SaveTarget(key, frontend, metadata, rechunk, cls.chunk_target_size_mb)
        return ChainNode(superrun_id, data_type, parts, save)

    def _chained_dtype(self, superrun_id, data_type, parts):
        """The dtype of chained data: from what the plan loads or computes for a subrun."""
        for part in parts:
            if isinstance(part.node, LoadNode):
                return part.node.rows_and_dtype()[1]
            if isinstance(part.node, OutputNode):
                return part.node.compute.plugin.dtype_for(data_type)
        return self.session.single_plugin(superrun_id, data_type).dtype_for(data_type)
