"""Storage: naming (DataKey), frontends and savers, file formats."""
from .common import DataKey, Saver, StorageBackend, StorageFrontend
from .files import DataDirectory

__all__ = ["DataKey", "Saver", "StorageBackend", "StorageFrontend", "DataDirectory"]
