"""Storage: naming (DataKey), frontends and savers, file formats."""
from .common import DataKey, Saver, StorageBackend, StorageFrontend
from .files import DataDirectory, FileSystemBackend, FileSytemBackend, dirname_to_prefix
from .strax_style import StorageType

__all__ = ["DataKey", "Saver", "StorageBackend", "StorageFrontend", "DataDirectory",
           "FileSystemBackend", "FileSytemBackend", "StorageType", "dirname_to_prefix"]
