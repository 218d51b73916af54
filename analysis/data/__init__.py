"""Contract and data: the book's tables, their schema, reading and validating a data directory."""

from analysis.data.book import Book
from analysis.data.schema import FIELDS, TABLES
from analysis.data.validate import BookValidationError, load_book, validate_book

__all__ = ["Book", "BookValidationError", "FIELDS", "TABLES", "load_book", "validate_book"]
