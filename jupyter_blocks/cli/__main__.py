"""``python -m jupyter_blocks.cli``: the ``jupyter-blocks`` command."""

from jupyter_blocks.cli import main

main()
