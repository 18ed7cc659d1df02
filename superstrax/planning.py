"""Planning: for (run, targets), decide what is loaded, computed, chained and saved.

A plan is a small graph of nodes. Planning reads metadata (what is stored where) but never
data; executor.py turns the graph into a stream of chunks. The planner is handed a Session.
Superruns are planned here too: their data is loaded if stored, computed over the superrun
if the plugin allows it, else chained from the subruns' data (DESIGN.md's semantics table).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Union

from .errors import DataNotAvailable, PluginError
from .lineage import check_superrun_config
from .naming import is_superrun_id
from .plugins.base import Plugin, SaveWhen
from .storage.common import parse_dtype

if TYPE_CHECKING:
    from .session import Session
    from .storage.common import DataKey, Location, StorageFrontend


@dataclass(eq=False)
class SaveTarget:
    """Where and how one stream is written."""
    key: DataKey
    frontend: StorageFrontend
    metadata: dict
    rechunk: bool
    target_size_mb: float


@dataclass(eq=False)
class LoadNode:
    data_type: str
    key: DataKey
    frontend: StorageFrontend
    copies: list[SaveTarget] = field(default_factory=list)   # storage_converter
    # Found while planning: the plan reuses its metadata (read and checked once per call)
    location: Location | None = None

    @property
    def metadata(self) -> dict:
        if self.location is not None:
            return self.location.metadata
        return self.frontend.get_metadata(self.key)

    def loader(self, time_range=None, arena=None):
        if self.location is not None:
            return self.location.chunks(time_range=time_range, arena=arena)
        return self.frontend.loader(self.key, time_range=time_range, arena=arena)


@dataclass(eq=False)
class ComputeNode:
    """One plugin instance run over its inputs; it may serve and save several outputs."""
    plugin: Plugin
    run_id: str
    inputs: dict[str, "Node"]
    saves: dict[str, SaveTarget] = field(default_factory=dict)


@dataclass(eq=False)
class OutputNode:
    compute: ComputeNode
    data_type: str


@dataclass(eq=False)
class SubrunPart:
    run_id: str
    ranges: tuple | None      # ((start, end), ...) in ns, or None for the whole subrun
    node: "Node"


@dataclass(eq=False)
class ChainNode:
    """A superrun's data made by chaining its subruns' data, each cut to its ranges."""
    run_id: str
    data_type: str
    parts: list[SubrunPart]
    save: SaveTarget | None = None


@dataclass(eq=False)
class MergeNode:
    """Several targets of one data kind, joined field-wise."""
    run_id: str
    data_types: tuple
    inputs: dict[str, "Node"]
    kinds: dict[str, str]


Node = Union[LoadNode, OutputNode, ComputeNode, ChainNode, MergeNode]


def walk(node: Node) -> list[Node]:
    """Every node of a plan once, inputs before the nodes that read them."""
    seen, order = set(), []

    def visit(n):
        if id(n) in seen:
            return
        seen.add(id(n))
        if isinstance(n, OutputNode):
            visit(n.compute)
        elif isinstance(n, ComputeNode):
            for i in n.inputs.values():
                visit(i)
        elif isinstance(n, ChainNode):
            for p in n.parts:
                visit(p.node)
        elif isinstance(n, MergeNode):
            for i in n.inputs.values():
                visit(i)
        order.append(n)

    visit(node)
    return order


class Planner:
    """Builds the plan of one get_iter/make call. Nodes are shared within the call."""

    def __init__(self, session: Session, targets, save=(), combining=False):
        self.session = session
        self.targets = tuple(targets)
        self.save = tuple(save)
        self.combining = combining
        self._nodes = {}
        self._computes = {}
        self._instances = {}

    # --- entry point -------------------------------------------------------------------------
    def plan(self, run_id: str) -> Node:
        if len(self.targets) == 1:
            return self.node_for(run_id, self.targets[0])
        inputs = {d: self.node_for(run_id, d) for d in self.targets}
        kinds = {d: self.session.kind_of(d) for d in self.targets}
        if len(set(kinds.values())) > 1:
            raise PluginError(
                f"Cannot load {list(self.targets)} together for run {run_id}: they are of "
                f"different data kinds {kinds}. Load each kind separately")
        return MergeNode(run_id, self.targets, inputs, kinds)

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
        key = self.session.key_for(run_id, data_type)
        found = self.session.locate(key)
        if found is not None:
            return self.load_node(data_type, key, *found)
        return self.compute_output(run_id, data_type)

    def load_node(self, data_type, key, frontend, location=None):
        """Load stored data; with storage_converter, also copy it to writable frontends
        that lack it (only whole loads are copied, so a copy is never partial)."""
        node = LoadNode(data_type, key, frontend, location=location)
        if not self.session.option("storage_converter"):
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
            inputs = {d: self.node_for(run_id, d) for d in plugin.depends_on}
            node = ComputeNode(plugin, run_id, inputs)
            for d in plugin.provides:
                if d != data_type and self.session.find_frontend(
                        self.session.key_for(run_id, d)) is not None:
                    # Another output of a multi-output plugin, stored already: as strax,
                    # leave it as it is rather than write it again.
                    continue
                target = self.save_target(run_id, d, cls, plugin)
                if target is not None:
                    node.saves[d] = target
            self._computes[compute_key] = node
        return OutputNode(self._computes[compute_key], data_type)

    def wants_saved(self, cls, data_type):
        when = cls.save_when_for(data_type)
        if when == SaveWhen.NEVER:
            return False
        if when == SaveWhen.EXPLICIT:
            return data_type in self.save
        if when == SaveWhen.TARGET:
            return data_type in self.targets or data_type in self.save
        return True

    def save_target(self, run_id, data_type, cls, plugin, rechunk=None):
        if not self.wants_saved(cls, data_type):
            return None
        key = self.session.key_for(run_id, data_type, combining=False)
        frontend = self.session.writable_frontend(key)
        if frontend is None:
            return None
        if rechunk is None:
            rechunk = cls.can_rechunk(data_type) and self.session.option("allow_rechunk")
        metadata = self.session.data_metadata(key, cls, plugin.dtype_for(data_type), run_id)
        return SaveTarget(key, frontend, metadata, bool(rechunk), cls.chunk_target_size_mb)

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
        parts = [SubrunPart(s.run_id, s.ranges, self.node_for(s.run_id, data_type))
                 for s in session.runs.subrun_specs(superrun_id)]
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
                md = part.node.metadata
                return parse_dtype(md, str(part.node.key))
            if isinstance(part.node, OutputNode):
                return part.node.compute.plugin.dtype_for(data_type)
        return self.session.single_plugin(superrun_id, data_type).dtype_for(data_type)
