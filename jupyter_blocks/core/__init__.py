"""The core values: what everything else is made of, depending on nothing else in the package.

- ``block``: :class:`~jupyter_blocks.core.block.BlockSpec` and the ``%%block`` line grammar.
- ``body``: static analysis of a block body (its form, type, tests, variables, outside names)
  and of scratch cells (what they assign and import); compiling bodies with cell line numbers.
- ``graph``: the DAG value; ``problems``: typed records of what is wrong with one.
- ``pipeline``: the one pipeline value; ``decorators``: Mage's block decorators.
- ``errors``: the exception hierarchy under ``BlocksError``; ``files``: atomic file writes.
"""
