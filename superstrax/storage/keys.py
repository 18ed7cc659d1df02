"""How stored data is named: DataKey, '<run>-<data_type>-<lineage hash>' (strax's names)."""
from ..errors import SuperstraxError
from ..hashing import deterministic_hash
from ..naming import is_superrun_id


class DataKey:
    """The name of one stored data type of one run: '<run>-<data_type>-<lineage hash>'.

    For a superrun the run part also carries a hash of its definition (sub_run_spec and
    `combining`), so that redefining the superrun never finds data made for the old one.
    """

    # A plan over 10,000 subruns holds a key per subrun: no per-instance dict.
    __slots__ = ("run_id", "data_type", "lineage", "subruns", "combining",
                 "_definition_hash", "_hash", "_str")

    def __init__(self, run_id, data_type, lineage, subruns=None, combining=False,
                 definition_hash=None, lineage_hash=None):
        self.run_id = str(run_id)
        self.data_type = data_type
        self.lineage = lineage
        self.subruns = subruns
        self.combining = bool(combining)
        # deterministic_hash((subruns, combining)), when the caller has it already
        self._definition_hash = definition_hash
        if self.is_superrun and subruns is None:
            raise SuperstraxError(f"A key for superrun {run_id} ({data_type}) needs its "
                                  f"sub_run_spec: define the superrun with st.define_run first")
        self._hash = lineage_hash    # deterministic_hash(lineage), when the caller has it
        self._str = None

    @property
    def is_superrun(self):
        return is_superrun_id(self.run_id)

    @property
    def lineage_hash(self):
        if self._hash is None:
            self._hash = deterministic_hash(self.lineage)
        return self._hash

    @property
    def _run_id(self):
        if self.is_superrun:
            if self._definition_hash is None:
                self._definition_hash = deterministic_hash((self.subruns, self.combining))
            return f"{self.run_id}_{self._definition_hash}"
        return self.run_id

    @property
    def prefix(self):
        """The part of the folder name that also prefixes its files: '<data_type>-<hash>'."""
        return f"{self.data_type}-{self.lineage_hash}"

    def __str__(self):
        if self._str is None:
            self._str = f"{self._run_id}-{self.data_type}-{self.lineage_hash}"
        return self._str

    __repr__ = __str__

    def __eq__(self, other):
        return isinstance(other, DataKey) and str(self) == str(other)

    def __hash__(self):
        return hash(str(self))
