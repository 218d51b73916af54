"""Command line: ``python -m analysis <command>`` (installed as ``overdue-relief``).

Each command lives with the module that owns it: the module exposes
``register(subparsers)``, which adds its parser and sets ``func`` to a callable
taking the parsed arguments and returning an exit status. Input problems
(:class:`analysis.errors.InputError`) print a readable message and exit 2. Every command
takes ``--log-level``, ``-q`` and ``-v``, before or after its name (:mod:`analysis.cli.logs`).
"""

from __future__ import annotations

import argparse
import os
import sys

from analysis.cli import causes, data, kpis, report, synth, tapes, targeting
from analysis.cli import scenario as scenario_cli
from analysis.cli.logs import add_logging_arguments, command_logging, log_level
from analysis.errors import InputError
from analysis.version import __version__

# The modules that register the commands; their order is the order in --help.
COMMAND_MODULES = (data, synth, kpis, causes, report, tapes, targeting, scenario_cli)


def build_parser() -> argparse.ArgumentParser:
    """The ``overdue-relief`` parser with every command of :data:`COMMAND_MODULES`."""
    parser = argparse.ArgumentParser(
        prog="overdue-relief",
        description="Why loans go overdue and which relief measures work.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    add_logging_arguments(parser)
    sub = parser.add_subparsers(dest="command", metavar="<command>", required=True)
    for module in COMMAND_MODULES:
        module.register(sub)
    for command in sub.choices.values():  # every command, those registered later too
        add_logging_arguments(command, suppress=True)
    return parser


def skip_unused_optional_imports() -> None:
    """Mark ``rfc3987_syntax`` absent before the report's nbformat loads jsonschema.

    jsonschema imports that optional package, when installed (the ``[lab]`` extra brings it
    through jupyter-events), only to check the "iri" string format, which no notebook
    schema uses; importing it builds a parser grammar, 2-4 s of CPU in every report
    process. jsonschema expects the ImportError a ``None`` entry gives. Only the command
    line does this: a library import leaves the user's interpreter alone."""
    if "jsonschema" not in sys.modules:
        sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[assignment]


def main(argv: list[str] | None = None) -> int:
    """Run one command; returns its exit status (2 and a message for bad input)."""
    skip_unused_optional_imports()
    parser = build_parser()
    args = parser.parse_args(argv)
    with command_logging(log_level(args)):
        return run_command(args)


def run_command(args: argparse.Namespace) -> int:
    """``args.func(args)``: its exit status; 2 and a message for bad input."""
    try:
        status = int(args.func(args) or 0)
        sys.stdout.flush()
        return status
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into `head` and closed: not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
