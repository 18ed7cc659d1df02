"""Planning: for (run, targets), decide what is loaded, computed, chained and saved.

A plan is a small graph of nodes. Planning reads metadata (what is stored where) but never
data; executor.py turns the graph into a stream of chunks.
"""
from dataclasses import dataclass, field

from .errors import DataNotAvailable, PluginError
from .lineage import check_superrun_config
from .naming import is_superrun_id
from .plugins.base import SaveWhen


@dataclass(eq=False)
class SaveTarget:
    """Where and how one stream is written."""
    key: object
    frontend: object
    metadata: dict
    rechunk: bool
    target_size_mb: float


@dataclass(eq=False)
class LoadNode:
    data_type: str
    key: object
    frontend: object
    copies: list = field(default_factory=list)   # SaveTargets (storage_converter)


@dataclass(eq=False)
class ComputeNode:
    """One plugin instance run over its inputs; it may serve and save several outputs."""
    plugin: object
    run_id: str
    inputs: dict                      # data_type -> node
    saves: dict = field(default_factory=dict)   # data_type -> SaveTarget


@dataclass(eq=False)
class OutputNode:
    compute: ComputeNode
    data_type: str


@dataclass(eq=False)
class SubrunPart:
    run_id: str
    ranges: list          # [(start, end), ...] in ns, or None for the whole subrun
    node: object


@dataclass(eq=False)
class ChainNode:
    """A superrun's data made by chaining its subruns' data, each cut to its ranges."""
    run_id: str
    data_type: str
    parts: list
    save: SaveTarget = None


@dataclass(eq=False)
class MergeNode:
    """Several targets of one data kind, joined field-wise."""
    run_id: str
    data_types: tuple
    inputs: dict                      # data_type -> node
    kinds: dict                       # data_type -> kind


def walk(node):
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

    def __init__(self, context, targets, save=(), combining=False):
        self.ctx = context
        self.targets = tuple(targets)
        self.save = tuple(save)
        self.combining = combining
        self._nodes = {}
        self._computes = {}
        self._instances = {}

    # --- entry point -------------------------------------------------------------------------
    def plan(self, run_id):
        if len(self.targets) == 1:
            return self.node_for(run_id, self.targets[0], top=True)
        inputs = {d: self.node_for(run_id, d, top=True) for d in self.targets}
        kinds = {d: self.ctx._kind_of(d) for d in self.targets}
        if len(set(kinds.values())) > 1:
            raise PluginError(
                f"Cannot load {list(self.targets)} together for run {run_id}: they are of "
                f"different data kinds {kinds}. Load each kind separately")
        return MergeNode(run_id, self.targets, inputs, kinds)

    def node_for(self, run_id, data_type, top=False):
        cache_key = (run_id, data_type)
        if cache_key not in self._nodes:
            if is_superrun_id(run_id):
                from .superruns import plan_superrun_node
                node = plan_superrun_node(self, run_id, data_type, top=top)
            else:
                node = self._regular_node(run_id, data_type)
            self._nodes[cache_key] = node
        return self._nodes[cache_key]

    # --- regular runs ------------------------------------------------------------------------
    def _regular_node(self, run_id, data_type):
        key = self.ctx.key_for(run_id, data_type)
        frontend = self.ctx._find_frontend(key)
        if frontend is not None:
            return self.load_node(data_type, key, frontend)
        return self.compute_output(run_id, data_type)

    def load_node(self, data_type, key, frontend):
        """Load stored data; with storage_converter, also copy it to writable frontends
        that lack it (only whole loads are copied, so a copy is never partial)."""
        node = LoadNode(data_type, key, frontend)
        if not self.ctx.context_config.get("storage_converter"):
            return node
        for fe in self.ctx._frontends_for(key):
            if fe is frontend or fe.readonly or fe.is_stored(key):
                continue
            if key.is_superrun and not self.ctx.context_config.get("write_superruns"):
                continue
            md = {k: v for k, v in frontend.get_metadata(key).items()
                  if k not in ("chunks", "start", "end", "writing_started", "writing_ended")}
            node.copies.append(SaveTarget(key, fe, md, False, md.get("chunk_target_size_mb", 200)))
        return node

    def compute_output(self, run_id, data_type):
        """An OutputNode for data_type, computed by its plugin over run_id's inputs."""
        cls = self.ctx._plugin_class(data_type, run_id)
        forbidden = self.ctx.context_config.get("forbid_creation_of") or ()
        if isinstance(forbidden, str):
            forbidden = (forbidden,)
        if data_type in forbidden:
            raise DataNotAvailable(
                f"{data_type} for run {run_id} is not stored, and the context forbids creating "
                f"it (forbid_creation_of={tuple(forbidden)}). Make it with a context that may, "
                f"or add the storage that holds it")
        compute_key = (run_id, cls)
        if compute_key not in self._computes:
            if is_superrun_id(run_id):
                check_superrun_config(cls, self.ctx._lineages.config_for(cls, run_id), run_id)
            plugin = self.ctx._make_plugin(cls, run_id, self._instances)
            inputs = {d: self.node_for(run_id, d) for d in plugin.depends_on}
            node = ComputeNode(plugin, run_id, inputs)
            for d in plugin.provides:
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
        key = self.ctx.key_for(run_id, data_type, combining=False)
        frontend = self.ctx._writable_frontend(key)
        if frontend is None:
            return None
        if rechunk is None:
            rechunk = cls.can_rechunk(data_type) and self.ctx.context_config.get("allow_rechunk", True)
        metadata = self.ctx._data_metadata(key, cls, plugin.dtype_for(data_type), run_id)
        return SaveTarget(key, frontend, metadata, bool(rechunk), cls.chunk_target_size_mb)
