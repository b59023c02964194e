"""``python -m rota.cli``: the ``rota`` command."""

from rota.cli import main

main()
