"""`python -m engine <command> ...`: every capability of the app as a command.

Commands live in ``engine/commands/<name>.py``; each module has ``register(subparsers)``
that adds its parser and sets ``func``. Benchmarks live in ``engine/bench/<name>.py`` with
``run(args) -> list[dict]`` and are reached through ``python -m engine bench <name>``.
Modules are imported only to register, and heavy libraries stay inside the command bodies.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

import engine.commands
from engine.commands._output import print_json
from engine.data.problems import DataValidationError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m engine", description="K-Mart demand & ordering engine")
    sub = parser.add_subparsers(dest="command", metavar="command", required=True)
    for info in sorted(pkgutil.iter_modules(engine.commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"engine.commands.{info.name}")
        if hasattr(module, "register"):
            module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except DataValidationError as exc:
        if getattr(args, "json", False):
            print_json(exc.report.to_dict())
        else:
            print(f"The data in {exc.report.folder} cannot be used:", file=sys.stderr)
            for sentence in exc.report.error_sentences():
                print(f"- {sentence}", file=sys.stderr)
        return 1
    except (ValueError, KeyError, FileNotFoundError) as exc:
        message = exc.args[0] if exc.args else str(exc)
        print(f"error: {message}", file=sys.stderr)
        return 2
