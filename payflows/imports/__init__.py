"""CSV billing imports: customers, stored cards, subscriptions and one-off charges into the ledger.

Prefect-free; the ``csv-billing-import`` flow (:mod:`flows.csv_import`) and the
``payflows import FILE`` command (:mod:`apps.imports_cli`) are thin wrappers. The formats
are documented in ``docs/csv-import.md``.

    result = import_csv(Path("subscriptions.csv"), engine, error_path=Path("errors.csv"))
    result.inserted, result.rejected, result.errors[0].line
"""

from payflows.imports.core import CHUNK_ROWS, error_file_for, import_csv
from payflows.imports.formats import FORMATS, FileError, ImportKind, detect_kind
from payflows.imports.results import ImportResult, RowError

__all__ = [
    "CHUNK_ROWS",
    "FORMATS",
    "FileError",
    "ImportKind",
    "ImportResult",
    "RowError",
    "detect_kind",
    "error_file_for",
    "import_csv",
]
