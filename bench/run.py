"""Run rota and APScheduler 3 on the same workloads, alternating, and print Markdown tables.

    .venv/bin/python bench/run.py              # the full suite, 3 repetitions (about 20 minutes)
    .venv/bin/python bench/run.py --quick      # small sizes, 1 repetition (well under a minute)
    .venv/bin/python bench/run.py --only W2 --reps 5

Every workload x system x repetition is a fresh process with a fresh temporary database; the
systems swap order each repetition. Tables go to stdout and to bench/results/latest.md (raw
results beside it as latest.json). See docs/benchmarks.md.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from bench.runner import main as run

    return run(sys.argv[1:], ROOT)


if __name__ == "__main__":
    sys.exit(main())
