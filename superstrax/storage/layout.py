"""Names of the entries a DataDirectory holds, and how to tell them apart.

    <key>                         committed data: '<run>-<data_type>-<hash>' (strax's name)
    <key>_temp-<writer id>        a write in progress (or a failed/killed one): one per writer
    <key>_temp                    the same, written by strax or an older superstrax
    <key>-claim.json              the exclusive claim of the writer making <key> (claims.py)
    <key>.replaced-<hex>          the old copy, moved aside while a new copy is renamed in

Every name but the first has more than three '-'-separated parts (or strax's own '_temp'),
so strax 2.x, which takes only three-part names for data (and looks up exact names), never
mistakes them for data.
"""
import os

TEMP_SUFFIX = "_temp"
TEMP_MARK = "_temp-"
REPLACED_MARK = ".replaced-"

__all__ = ["TEMP_SUFFIX", "TEMP_MARK", "REPLACED_MARK", "temp_folder", "temp_key",
           "is_temp_name", "dirname_to_prefix", "metadata_path", "stat_metadata", "is_key_name"]


def temp_folder(folder: str, writer_id: str) -> str:
    return f"{os.path.normpath(folder)}{TEMP_MARK}{writer_id}"


def temp_key(name: str):
    """The key a temp folder name belongs to, or None if it is not a temp folder name."""
    if TEMP_MARK in name:
        key, _, writer = name.rpartition(TEMP_MARK)
        return key if writer and "-" not in writer else None
    if name.endswith(TEMP_SUFFIX):
        return name[:-len(TEMP_SUFFIX)]
    return None


def is_temp_name(name: str) -> bool:
    key = temp_key(name)
    return key is not None and is_key_name(key)


def is_key_name(name: str) -> bool:
    """A '<run>-<data_type>-<hash>' name, as committed data folders have."""
    parts = name.split("-")
    return (len(parts) == 3 and all(parts) and REPLACED_MARK not in name
            and not name.endswith(TEMP_SUFFIX))


def dirname_to_prefix(folder: str) -> str:
    """'<data_type>-<hash>', the prefix of the files in a data (or temp) folder."""
    name = os.path.basename(os.path.normpath(folder))
    key = temp_key(name)
    if key is not None:
        name = key
    elif REPLACED_MARK in name:
        name = name.split(REPLACED_MARK)[0]
    parts = name.split("-", 1)
    return parts[1] if len(parts) == 2 else name


def stat_metadata(folder: str):
    """(path, os.stat_result) of a folder's data metadata file, the name strax 2.x writes or
    else the old 'metadata.json'. One system call where the file is there, two where it is
    not (FileNotFoundError): a superrun's load asks every storage for every subrun, and in
    all but one the folder is missing."""
    path = os.path.join(folder, f"{dirname_to_prefix(folder)}-metadata.json")
    try:
        return path, os.stat(path)
    except FileNotFoundError:
        old = os.path.join(folder, "metadata.json")
        try:
            return old, os.stat(old)
        except FileNotFoundError:
            pass
        raise


def metadata_path(folder: str) -> str:
    """The data metadata file of a folder (the old name 'metadata.json' is read as fallback):
    the one stat_metadata finds, else the name strax 2.x writes."""
    try:
        return stat_metadata(folder)[0]
    except OSError:
        return os.path.join(folder, f"{dirname_to_prefix(folder)}-metadata.json")
