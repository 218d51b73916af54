"""Contract and data: the book's tables, their schema, reading and validating a data directory."""

from analysis.data.book import Book
from analysis.data.files import LOAN_TABLES, table_path, table_size
from analysis.data.load import load_book
from analysis.data.problems import BookValidationError, ValidationReport
from analysis.data.schema import FIELDS, TABLES
from analysis.data.subset import filter_segment, latest_month, restrict_to
from analysis.data.validate import validate_book

__all__ = [
    "Book", "BookValidationError", "FIELDS", "LOAN_TABLES", "TABLES", "ValidationReport",
    "filter_segment", "latest_month", "load_book", "restrict_to", "table_path", "table_size",
    "validate_book",
]
