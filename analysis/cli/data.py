"""Commands about the data contract: ``validate`` and ``schema-doc``.

Each command is a ``_add_<name>(sub)`` function registered in :func:`register`;
add further data commands the same way (parser, then ``set_defaults(func=...)``
with a function ``args -> exit status``).
"""

from __future__ import annotations

import argparse
import sys

from analysis.cli.common import add_engine_arguments
from analysis.data import schema
from analysis.engine import validate_with_engine
from analysis.errors import InputError


def _validate(args: argparse.Namespace) -> int:
    report = validate_with_engine(args.data, args.engine, args.scheduler)
    if report.ok:
        print(report.message())
        return 0
    print(report.format(), file=sys.stderr)
    if args.report:
        try:
            report.table.to_csv(args.report, index=False)
        except OSError as e:
            raise InputError(f"cannot write the report to {args.report}: {e}") from e
        print(f"report written to {args.report}", file=sys.stderr)
    return 2


def _add_validate(sub) -> None:
    p = sub.add_parser(
        "validate",
        help="check a data directory against the data contract",
        description="Validate a data directory (loans, performance, relief, optional signals, "
        "reasons, cause_map, measures) and print every problem with example rows. "
        "Exit status 0 when valid, 2 when not.",
    )
    p.add_argument("--data", required=True, metavar="DIR", help="data directory")
    p.add_argument("--report", metavar="CSV", help="also write the report table to this CSV")
    add_engine_arguments(p)
    p.set_defaults(func=_validate)


def _schema_doc(args: argparse.Namespace) -> int:
    if args.print:
        print(schema.render_markdown(), end="")
        return 0
    path, old, new = schema.readme_with_schema(args.readme)
    if args.check:
        if old != new:
            print(f"{path}: data dictionary is out of date; run `python -m analysis schema-doc`",
                  file=sys.stderr)
            return 1
        print(f"{path}: data dictionary is current")
        return 0
    changed = schema.write_readme(path)
    print(f"{path}: {'data dictionary updated' if changed else 'already current'}")
    return 0


def _add_schema_doc(sub) -> None:
    p = sub.add_parser(
        "schema-doc",
        help="write the data dictionary into data/README.md",
        description="Regenerate section 1 of data/README.md (between the schema-doc markers) "
        "from the declared contract in analysis/data/schema.py.",
    )
    p.add_argument("--readme", metavar="PATH", help="README to update (default: data/README.md)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--check", action="store_true", help="exit 1 if the README is out of date")
    g.add_argument("--print", action="store_true", help="print the dictionary instead")
    p.set_defaults(func=_schema_doc)


def register(sub) -> None:
    """Add the data commands to the ``python -m analysis`` sub-parsers."""
    _add_validate(sub)
    _add_schema_doc(sub)
