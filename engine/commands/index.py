"""`python -m engine index`: build or update the "Ask the data" index (incremental, with progress)."""

from __future__ import annotations

import sys
import time
from engine.access.audit import record
from engine.access.roles import cli_user
from engine.ask.index import update_index
from engine.commands._output import print_json
from engine.data.storage import data_dir


def progress_bar(stream=None, width: int = 30):
    """A progress(done, total, message) callback drawing one updating line on stderr."""
    stream = stream or sys.stderr
    state = {"last": 0.0}

    def draw(done: int, total: int, message: str) -> None:
        now = time.monotonic()
        if total and done < total and now - state["last"] < 0.2:
            return
        state["last"] = now
        if total:
            filled = int(width * done / total)
            stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} {message[:60]:<60}")
            if done >= total:
                stream.write("\n")
        else:
            stream.write(f"{message}\n")
        stream.flush()

    return draw


def _index(args) -> int:

    result = update_index(args.data or data_dir(), progress=None if args.quiet else progress_bar())
    record(cli_user(args.by), "rebuild_index", args.data or data_dir(), documents=result["documents"])
    if args.json:
        print_json(result)
        return 0
    st = result["status"]
    print(f"{result['documents']} documents ({st['chunks']} chunks) in {st['location']}: "
          f"{result['added']} added, {result['updated']} updated, {result['removed']} removed, {result['unchanged']} unchanged; "
          f"{result['chunks_embedded']} chunks embedded in {result['seconds']:.1f} s (documents built in {result['build_seconds']:.1f} s).")
    for warning in result["warnings"]:
        print(f"warning: {warning}", file=sys.stderr)
    return 0


def register(sub) -> None:
    p = sub.add_parser("index", help="build or update the Ask-the-data index (only changed documents are embedded)")
    p.add_argument("--data", default=None, help="data folder (default: $KMART_DATA or data/current)")
    p.add_argument("--json", action="store_true", help="print the counts and index status as JSON")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--by", default=None, help="who rebuilds it, written to <state>/audit.jsonl (default: the OS user)")
    p.set_defaults(func=_index)
