"""Typed import errors: they name the file, the row and the column."""

from __future__ import annotations

from online.errors import IngestError

__all__ = ["ImportDataError", "MappingError"]


class MappingError(IngestError):
    """A column-mapping file is missing or invalid; names the file and the field."""


class ImportDataError(IngestError):
    """A data file cannot be imported as mapped.

    Attributes:
        file: the data file.
        row: 1-based data row (the header is not counted), or None for whole-file problems.
        column: the file's column name, or None.
        problem: what is wrong and what to do.
    """

    def __init__(self, file: str, problem: str, row: int | None = None,
                 column: str | None = None) -> None:
        self.file, self.row, self.column, self.problem = file, row, column, problem
        where = file
        if row is not None:
            where += f", row {row}"
        if column is not None:
            where += f", column {column!r}"
        super().__init__(f"{where}: {problem}")
