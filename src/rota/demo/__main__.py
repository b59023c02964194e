"""``python -m rota.demo [--fast] [--host HOST] [--port PORT] [--data-dir DIR]``: see `run_demo`."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from rota.demo.runner import run_demo


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m rota.demo",
        description="rota's media-server demo: jobs on a sample library, and the admin "
        "service with its URL and token printed (Ctrl-C stops it).",
    )
    parser.add_argument(
        "--fast",
        action="store_true",
        help="compress the day: every job starts within a minute, then every 10-60 s",
    )
    parser.add_argument("--host", default="127.0.0.1", help="the address to serve on")
    parser.add_argument("--port", type=int, default=8000, help="the port to serve on")
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=Path(".demo"),
        help="where the databases and backups live (default: .demo)",
    )
    options = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    run_demo(fast=options.fast, host=options.host, port=options.port, data_dir=options.data_dir)


if __name__ == "__main__":
    main()
