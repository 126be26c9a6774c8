"""Home page start-up: imports, `streamlit run` to healthy, and the cached data load."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from engine.data.dataset import read_dataset
from engine.data.demo import write_demo

ROOT = Path(__file__).resolve().parents[2]
NOTES = ["Target: Home interactive within a few seconds of start (imports + server + first data load)."]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(args) -> list[dict]:
    rows = []
    code = "import time; t=time.perf_counter(); import streamlit, altair, polars, ui_common, engine.analysis.overview; print(time.perf_counter()-t)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    rows.append({"step": "import Home's modules (streamlit, altair, polars, engine)", "seconds": round(float(out.stdout.strip()), 2)})
    heavy = "import sys, ui_common, engine.analysis.overview, engine.data.features, engine.data.storage; print(sorted(m for m in ('tensorflow','keras','torch','llama_index','chromadb','statsmodels','sklearn') if m in sys.modules))"
    loaded = subprocess.run([sys.executable, "-c", heavy], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    rows.append({"step": f"heavy modules imported by Home's code: {loaded}", "seconds": None})

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.data) if args.data else Path(tmp) / "current"
        if not args.data:
            t0 = time.perf_counter()
            write_demo(folder)
            rows.append({"step": "write the demo data (first `make run`)", "seconds": round(time.perf_counter() - t0, 2)})
        t0 = time.perf_counter()
        read_dataset(folder)
        rows.append({"step": "load + validate the data (first page view; cached after)", "seconds": round(time.perf_counter() - t0, 2)})
        port = _free_port()
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(ROOT / "Home.py"), "--server.headless", "true", "--server.port", str(port),
             "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"],
            cwd=ROOT, env={**os.environ, "KMART_DATA": str(folder)}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        try:
            while True:
                try:
                    if urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1).read() == b"ok":
                        break
                except OSError:
                    time.sleep(0.1)
                if time.perf_counter() - t0 > 60:
                    raise RuntimeError("streamlit did not answer /_stcore/health within 60 s")
            rows.append({"step": "`streamlit run Home.py` until /_stcore/health answers", "seconds": round(time.perf_counter() - t0, 2)})
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    return rows
