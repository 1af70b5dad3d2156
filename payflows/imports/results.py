"""What an import reports: counts, and the rejected rows with line, column and reason.

:class:`ImportResult` and :class:`RowError` are shared with the hold-decision import and live
in :mod:`payflows.csvfiles`; they are re-exported here for the billing imports.
"""

from __future__ import annotations

from pydantic import BaseModel

from payflows.csvfiles import ImportResult, RowError

__all__ = ["ChunkCounts", "ImportResult", "RowError"]


class ChunkCounts(BaseModel):
    """How one chunk landed in the ledger (rows inserted, updated, left as they were)."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0

    def add(self, other: ChunkCounts) -> None:
        self.inserted += other.inserted
        self.updated += other.updated
        self.unchanged += other.unchanged
