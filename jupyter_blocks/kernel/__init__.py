"""The notebook side: what a live kernel knows and shows.

- ``magics``: ``%%block`` and ``%blocks`` (parse, call the session, raise ``UsageError``).
- ``session``: the kernel's pipeline runs, through the run assembly.
- ``structure``: the notebook as the kernel knows it (cells on screen, the file, cells run).
- ``memory``: what the kernel remembers of its runs (records, ``--no-cache`` outputs, history).
- ``freshness``: each block's state (fresh, cached, stale and why, failed, skipped, running).
- ``protocol`` and ``comm``: the messages to and from the JupyterLab extension, and the comm.
- ``display``: status lines, the ``%blocks`` table, DAG pictures.
"""
