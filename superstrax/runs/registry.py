"""The runs a context knows: run documents from its storage (cached while their files do not
change), superrun definitions resolved to regular runs, and run listings."""
import sys

from . import listing as runs, superruns
from ..bounded_cache import BoundedCache
from ..errors import RunMetadataNotAvailable, SuperrunError
from ..hashing import deterministic_hash
from ..naming import is_superrun_id


# Documents kept parsed per context (and the contexts derived from it): of regular runs,
# and of superruns, apart.
RUN_DOCUMENT_CACHE_ENTRIES = 1024
SUPERRUN_DOCUMENT_CACHE_ENTRIES = 64


def _with_shared_names(doc):
    """doc with the run ids and the 'all' of its sub_run_spec interned: as parsed, each is a
    string of its own, ~100 bytes a subrun; interned, the specs resolved from it, the plan
    and the chunks read share them."""
    spec = doc.get("sub_run_spec")
    if type(spec) is not dict:
        return doc
    return {**doc, "sub_run_spec": {
        sys.intern(k) if type(k) is str else k: sys.intern(v) if type(v) is str else v
        for k, v in spec.items()}}


class _DocumentCache:
    """Run documents, with superruns' kept apart from regular runs': resolving a superrun of
    10,000 subruns reads 10,000 documents, which in one LRU pushed out the superrun's own
    (and with it the resolved spec, which is checked against it), so that every later use
    read it again and resolved the superrun again."""

    __slots__ = ("_regular", "_superruns")

    def __init__(self):
        self._regular = BoundedCache(RUN_DOCUMENT_CACHE_ENTRIES)
        self._superruns = BoundedCache(SUPERRUN_DOCUMENT_CACHE_ENTRIES)

    def _of(self, run_id):
        return self._superruns if is_superrun_id(run_id) else self._regular

    def get(self, run_id, default=None):
        return self._of(run_id).get(run_id, default)

    def __setitem__(self, run_id, value):
        self._of(run_id)[run_id] = value

    def pop(self, run_id, default=None):
        return self._of(run_id).pop(run_id, default)

    def __len__(self):
        return len(self._regular) + len(self._superruns)


def _nests(doc):
    return superruns.contains_superruns(doc.get("sub_run_spec"))


class RunRegistry:
    """Run documents and superrun specs of one context's storage."""

    def __init__(self, owner, documents=None):
        # owner: anything with a .storage list of frontends (a Session)
        self.owner = owner
        # run_id -> (stamp, document); the stamp names the frontends asked, so contexts with
        # other storage can share this dict (new_context does) without mixing documents.
        # Bounded, as the metadata caches: a superrun of 10,000 subruns reads each document
        # once to resolve its spec (which is kept), and holding them all after that made
        # memory grow with the number of runs a context ever read.
        self._docs = _DocumentCache() if documents is None else documents
        self._specs = {}
        self._key_parts = {}

    @property
    def documents(self):
        """The cache of run documents, for sharing with a derived session."""
        return self._docs

    def forget(self, run_id=None):
        """Drop resolved superrun specs (all, since nesting links them) and run_id's document.

        Documents are checked against their file's stamp on every use, so only a document
        just rewritten needs dropping (a rewrite within the stamp's resolution would hide).
        """
        self._specs = {}
        self._key_parts = {}
        if run_id is not None:
            self._docs.pop(run_id, None)

    def metadata(self, run_id, projection=None):
        """A copy of run_id's document (only the fields in projection, if given)."""
        doc = self.doc(run_id)
        if projection is not None:
            projection = (projection,) if isinstance(projection, str) else projection
            return {k: v for k, v in doc.items() if k in projection}
        return dict(doc)

    def _read(self, run_id):
        """(stamp, document): the document from the first frontend that has one, with the
        version of every frontend asked up to that one (read with the document, so a change
        after the read shows as a new version), or stamp None if one of them cannot tell."""
        stamp, doc = [], None
        for fe in self._document_frontends():
            found, version = fe.versioned_run_metadata(run_id)
            stamp.append((fe, version))
            if found is not None:
                doc = found
                break
        if doc is None:
            doc = runs.run_metadata(self.owner.storage, run_id)      # raises, naming them all
        if any(version is None for _, version in stamp):
            stamp = None
        if is_superrun_id(run_id):
            doc = _with_shared_names(doc)
        if is_superrun_id(run_id) and _nests(doc) and not _resolving(self, run_id):
            # Inner superruns may have been redefined since this document was written: its
            # span and livetime are those of what it resolves to now.
            try:
                live = superruns.span_fields(superruns.resolve(self.doc, str(run_id),
                                                               doc["sub_run_spec"]))
            except SuperrunError:
                return stamp, doc     # loading it will say what no longer resolves
            finally:
                self._resolving.discard(str(run_id))
            doc = {**doc, **live}
        return (None if stamp is None else tuple(stamp)), doc

    def _document_frontends(self):
        return [fe for fe in self.owner.storage if fe.stores_run_documents]

    def _unchanged(self, run_id, stamp):
        """Whether a document read with this stamp is still what a read would return: the
        frontends asked are still the first ones here, and none of their versions changed.
        Frontends after the one that had the document do not matter: it hides theirs."""
        frontends = self._document_frontends()
        if len(frontends) < len(stamp):
            return False
        return all(fe is asked and fe.run_document_version(run_id) == version
                   for fe, (asked, version) in zip(frontends, stamp))

    def doc(self, run_id):
        """The run document of run_id; read again only when its file changed."""
        run_id = str(run_id)
        cached = self._docs.get(run_id)
        if cached is not None and self._unchanged(run_id, cached[0]):
            return cached[1]
        stamp, doc = self._read(run_id)
        # A superrun of superruns has live span and livetime (see metadata): not cached.
        if stamp is not None and not _nests(doc):
            self._docs[run_id] = (stamp, doc)
        return doc

    def superrun_doc(self, superrun_id):
        doc = self.doc(superrun_id)
        if not doc.get("sub_run_spec"):
            raise SuperrunError(f"run {superrun_id} starts with '_' but has no sub_run_spec in its "
                                f"run document; define it with st.define_run")
        return doc

    def subrun_specs(self, superrun_id):
        """The regular runs (and ranges) of a superrun, ordered by start."""
        doc = self.superrun_doc(superrun_id)
        if _nests(doc):
            # Inner superruns may be redefined (by any context) without this document
            # changing: resolve afresh, from their own stamp-checked documents.
            return superruns.resolve(self.doc, superrun_id)
        cached = self._specs.get(superrun_id)
        if cached is None or cached[0] is not doc:
            cached = (doc, superruns.resolve(self.doc, superrun_id))
            self._specs[superrun_id] = cached
        return cached[1]

    def key_parts(self, superrun_id, combining):
        """(spec, hash) naming a superrun's data: key_spec and its hash with `combining`.

        Hashing the spec of a superrun of a thousand runs costs milliseconds, so it is done
        once per version of the run document (and every time for superruns of superruns).
        """
        doc = self.superrun_doc(superrun_id)
        cached = self._key_parts.get((superrun_id, combining))
        if cached is not None and cached[0] is doc:
            return cached[1], cached[2]
        spec = superruns.key_spec(doc["sub_run_spec"], lambda: self.subrun_specs(superrun_id))
        digest = deterministic_hash((spec, bool(combining)))
        if not _nests(doc):
            self._key_parts[(superrun_id, combining)] = (doc, spec, digest)
        return spec, digest

    def regular_subruns(self, superrun_id):
        return [s.run_id for s in self.subrun_specs(superrun_id)]

    def define(self, name, data, from_run=None):
        """Write the run document of a superrun to the first storage that can define runs."""
        frontend = next((fe for fe in self.owner.storage if fe.can_define_runs), None)
        if frontend is None:
            raise SuperrunError(
                f"Cannot define superrun {name}: no storage can store run documents. Add a "
                f"DataDirectory with provide_run_metadata=True and readonly=False")
        # Each subrun document is looked up twice while the definition is built (to resolve
        # it, then for its span); within this one call, once is enough: each look costs a
        # stat per frontend, which was a third of defining a superrun of a thousand runs.
        looked_up = {}

        def doc_once(run_id):
            run_id = str(run_id)
            if run_id not in looked_up:
                looked_up[run_id] = self.doc(run_id)
            return looked_up[run_id]

        doc = superruns.superrun_document(doc_once, name, data, from_run=from_run)
        for fe in self.owner.storage[:self.owner.storage.index(frontend)]:
            # run_metadata reads the first document it finds: one in an earlier storage would
            # hide the new definition.
            if not fe.stores_run_documents:
                continue
            try:
                fe.run_metadata(doc["name"], projection=["name"])
            except RunMetadataNotAvailable:
                continue
            raise SuperrunError(
                f"Cannot define superrun {doc['name']}: {fe!r} already holds a run document of "
                f"that name and cannot be written, so the new definition would never be read. "
                f"Choose another name")
        frontend.write_run_metadata(doc["name"], doc)
        self.forget(doc["name"])
        return doc["name"]

    def scan(self, store_fields=()):
        return runs.scan_runs(self.owner.storage, store_fields)

    def with_superrun_modes(self, df):
        """Superruns list the modes of their subruns, so run_mode= matches them too."""
        modes = df["mode"].tolist()
        for i, name in enumerate(df["name"]):
            if is_superrun_id(name):
                subs = set()
                try:
                    for s in self.subrun_specs(name):
                        subs.update(runs._joined(self.doc(s.run_id).get("mode")).split(","))
                except Exception:     # an unresolvable superrun just keeps its own modes
                    continue
                own = set(modes[i].split(",")) if modes[i] else set()
                modes[i] = ",".join(sorted((own | subs) - {""}))
        df = df.copy()
        df["mode"] = modes
        return df


def _resolving(registry, run_id):
    """Mark run_id as being resolved; True if it already was (a superrun cycle, which
    superruns.resolve then reports: without this, reading its document would recurse)."""
    busy = registry.__dict__.setdefault("_resolving", set())
    if str(run_id) in busy:
        return True
    busy.add(str(run_id))
    return False
