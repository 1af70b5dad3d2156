"""What an import reports: counts, and the rejected rows with line, column and reason."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["ChunkCounts", "ImportResult", "RowError"]


class RowError(BaseModel):
    """A rejected row. ``line`` is the physical line in the file (the header is line 1)."""

    model_config = ConfigDict(frozen=True)

    line: int
    column: str
    reason: str


class ChunkCounts(BaseModel):
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0

    def add(self, other: ChunkCounts) -> None:
        self.inserted += other.inserted
        self.updated += other.updated
        self.unchanged += other.unchanged


class ImportResult(BaseModel):
    """The outcome of one file. ``rows_read = inserted + updated + unchanged + rejected``."""

    file: str
    kind: str
    rows_read: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    chunks: int = 0
    #: The first rejected rows (all of them are in ``error_file``).
    errors: list[RowError] = Field(default_factory=list)
    errors_truncated: bool = False
    error_file: str | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.rejected == 0
