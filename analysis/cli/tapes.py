"""``python -m analysis import``: a loan tape and a YAML spec -> a validated contract folder.

See :mod:`analysis.importers.tape` for the method and ``data/README.md`` section 7 for the spec.
Exit status 0 when published, 2 for bad input (unreadable source, bad spec, missing key,
output failing validation, too many quarantined records: nothing published then).
"""

from __future__ import annotations

import argparse
import sys

from analysis.errors import ParameterError
from analysis.importers import resolve_key, run_import


def _source_pair(text: str) -> tuple[str, str]:
    name, sep, path = text.partition("=")
    if not sep or not name or not path:
        raise argparse.ArgumentTypeError(f"expected NAME=PATH, got {text!r}")
    return name.strip(), path.strip()


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "import",
        help="import a loan tape into the data contract with a YAML spec",
        description="Read the sources of SPEC, build the contract tables, quarantine records "
        "that cannot be mapped, pseudonymise loan and borrower IDs (HMAC-SHA256 keyed by "
        "$OVERDUE_RELIEF_KEY or --key-file), validate, and publish atomically to DIR. "
        "Rejected records go to DIR.quarantine.csv beside DIR.",
    )
    p.add_argument("--spec", required=True, help="import spec (YAML), e.g. data/specs/lendingclub.yml")
    p.add_argument("--out", required=True, metavar="DIR", help="output data directory")
    p.add_argument("--source", action="append", default=[], type=_source_pair, metavar="NAME=PATH",
                   help="override the path of a source declared in the spec (repeatable)")
    p.add_argument("--key-file", metavar="PATH",
                   help="file holding the pseudonymisation secret (outside the repository); "
                   "default: $OVERDUE_RELIEF_KEY")
    p.add_argument("--no-pseudonymise", action="store_true",
                   help="keep IDs as they are: only for data that are already anonymised")
    p.add_argument("--dry-run", action="store_true",
                   help="do everything but publish: read, map, quarantine, validate, report")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.no_pseudonymise and args.key_file:
        raise ParameterError("give either --key-file or --no-pseudonymise, not both")
    sources = dict(args.source)
    if len(sources) != len(args.source):
        raise ParameterError("a source is overridden twice with --source")
    key = None if args.no_pseudonymise else resolve_key(args.key_file, out_dir=args.out)
    result = run_import(args.spec, args.out, sources=sources, key=key,
                        no_pseudonymise=args.no_pseudonymise, dry_run=args.dry_run)
    print(result.summary(), file=sys.stdout)
    return 0
