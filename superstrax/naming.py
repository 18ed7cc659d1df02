"""The naming rules, each in one place with one error type (errors.InvalidName).

- A superrun's id starts with '_'; a regular run's never does (is_superrun_id).
- Run ids, superrun names and data types hold no '-': it separates run, data type and
  lineage hash in stored names ('<run>-<data_type>-<hash>') (check_no_dash).
- A superrun name is '_' followed by letters, digits, '_' and '.', since it names files
  (check_superrun_name).
"""
from .errors import InvalidName, InvalidSuperrunName


def is_superrun_id(run_id) -> bool:
    return str(run_id).startswith("_")


def check_no_dash(name: str, what: str, error=InvalidName) -> str:
    """name, if it holds no '-'; what says what it names ('run id', 'data type', ...)."""
    if "-" in name:
        raise error(f"{what} {name!r} contains '-', which separates the run, data type and hash "
                    f"in stored names; use another {what}")
    return name


def check_superrun_name(name) -> str:
    if not isinstance(name, str) or not is_superrun_id(name) or len(name) < 2:
        raise InvalidSuperrunName(f"superrun name {name!r} must be a string starting with '_' "
                                  f"(e.g. '_kr83m_week1'); regular run ids never start with '_'")
    if "-" in name:
        raise InvalidSuperrunName(f"superrun name {name!r} may not contain '-' (it separates the "
                                  f"run, data type and hash in folder names)")
    if not all(c.isalnum() or c in "_." for c in name):
        raise InvalidSuperrunName(f"superrun name {name!r} may only hold letters, digits, '_' "
                                  f"and '.', since it names files and folders")
    return name
