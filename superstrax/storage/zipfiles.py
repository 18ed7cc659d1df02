"""ZipDirectory: read-only data of runs packed as one zip file per run (strax's format).

`<path>/<run_id>.zip` holds that run's data folders as a DataDirectory lays them out
(`<key>/<prefix>-metadata.json`, `<key>/<prefix>-000000`, ...), stored uncompressed (the
chunk files are compressed already), and optionally the run document
`<run_id>-metadata.json`. `ZipDirectory.zip_dir(directory, zip_path)` makes such a file from
a DataDirectory's folders; nothing writes into a zip otherwise (a zip cannot be written by
several processes at once).
"""
import json
import os
import shutil
import zipfile

import numpy as np

from ..errors import DataCorrupted, DataNotAvailable, InvalidConfiguration, RunMetadataNotAvailable
from .checksums import CHECKSUM_FIELD, check_checksum
from .common import StorageBackend, StorageFrontend
from .files import RUN_METADATA_PATTERN
from .io import load_array
from .layout import dirname_to_prefix
from .strax_style import StorageType

__all__ = ["ZipDirectory", "ZipFileBackend"]


class ZipFileBackend(StorageBackend):
    """Backend keys are (zip file path, data folder name inside it)."""

    def _read_member(self, zip_path, member):
        try:
            with zipfile.ZipFile(zip_path) as zf:
                return zf.read(member)
        except KeyError:
            raise DataNotAvailable(f"{zip_path} holds no {member}") from None
        except (OSError, zipfile.BadZipFile) as e:
            raise DataCorrupted(f"Cannot read {member} from {zip_path}: {e}") from e

    def get_metadata(self, backend_key):
        zip_path, folder = backend_key
        member = f"{folder}/{RUN_METADATA_PATTERN % dirname_to_prefix(folder)}"
        raw = self._read_member(zip_path, member)
        try:
            md = json.loads(raw)
        except ValueError as e:
            raise DataCorrupted(f"{member} in {zip_path} is not valid JSON ({e})") from e
        if not isinstance(md, dict):
            raise DataCorrupted(f"{member} in {zip_path} is not a JSON object")
        return md

    def read_chunk(self, backend_key, md, info, dtype, out=None):
        zip_path, folder = backend_key
        if not info.get("n"):
            return np.zeros(0, dtype) if out is None else out
        filename = info.get("filename") or f"{dirname_to_prefix(folder)}-{info['chunk_i']:06d}"
        member = f"{folder}/{filename}"
        raw = self._read_member(zip_path, member)
        check_checksum(raw, info.get(CHECKSUM_FIELD), f"{zip_path}:{member}")
        rows = load_array(raw, dtype, md["compressor"], out=out)
        if len(rows) != info["n"]:
            raise DataCorrupted(f"{zip_path}:{member} holds {len(rows)} rows, its metadata "
                                f"lists {info['n']}")
        return rows

    def saver(self, backend_key, metadata, replace=False):
        raise InvalidConfiguration(f"zip files are read-only; cannot write into "
                                   f"{backend_key[0]}")


class ZipDirectory(StorageFrontend):
    """Runs as `<path>/<run_id>.zip` files (read-only; see the module docstring)."""

    storage_type = StorageType.COMPRESSED

    def __init__(self, path=".", readonly=True, provide_run_metadata=True, **kwargs):
        if not readonly:
            raise InvalidConfiguration("ZipDirectory is read-only: write into a DataDirectory "
                                       "and pack its folders with ZipDirectory.zip_dir")
        super().__init__(readonly=True, provide_run_metadata=provide_run_metadata, **kwargs)
        self.path = os.fspath(path)
        self.backends = [ZipFileBackend()]

    def __repr__(self):
        return f"ZipDirectory({self.path!r})"

    def _zip_of(self, run_id):
        run_id = str(run_id)
        if os.sep in run_id or (os.altsep and os.altsep in run_id):
            raise DataNotAvailable(f"run id {run_id!r} cannot name a zip file in {self.path}")
        zip_path = os.path.join(self.path, f"{run_id}.zip")
        if not os.path.isfile(zip_path):
            raise DataNotAvailable(f"no {run_id}.zip in {self.path}")
        return zip_path

    def _find(self, key):
        backend = self.backends[0]
        backend_key = (self._zip_of(key.run_id), str(key))
        md = backend.get_metadata(backend_key)
        if "exception" in md or "writing_ended" not in md:
            raise DataNotAvailable(f"{key} in {backend_key[0]} is incomplete (its write "
                                   f"failed before it was zipped)")
        return backend, backend_key

    def _read_run_document(self, run_id):
        try:
            zip_path = self._zip_of(run_id)
            raw = self.backends[0]._read_member(zip_path, RUN_METADATA_PATTERN % run_id)
        except DataNotAvailable as e:
            raise RunMetadataNotAvailable(f"no run document of {run_id} in {self.path} "
                                          f"({e})") from None
        return json.loads(raw)

    def run_document_version(self, run_id):
        try:
            st = os.stat(os.path.join(self.path, f"{run_id}.zip"))
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size)

    def remove(self, key):
        raise InvalidConfiguration(f"{self!r} is read-only; cannot remove {key}")

    @staticmethod
    def zip_dir(input_dir, output_zipfile, delete=False):
        """Pack the folders directly inside input_dir (their files, not subfolders) into
        output_zipfile, uncompressed; other files there are left out. delete=True removes
        each folder once it is packed."""
        with zipfile.ZipFile(output_zipfile, mode="w") as zf:
            for name in sorted(os.listdir(input_dir)):
                folder = os.path.join(input_dir, name)
                if not os.path.isdir(folder):
                    continue
                for filename in sorted(os.listdir(folder)):
                    path = os.path.join(folder, filename)
                    if os.path.isfile(path):
                        zf.write(path, arcname=f"{name}/{filename}")
        if delete:
            for name in os.listdir(input_dir):
                folder = os.path.join(input_dir, name)
                if os.path.isdir(folder):
                    shutil.rmtree(folder)
