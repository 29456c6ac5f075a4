"""The notebook side: what a live kernel knows and shows.

- ``magics``: ``%%block`` and ``%blocks`` (parse, call the session, raise ``UsageError``).
- ``session``: the kernel's pipeline runs, through the run assembly.
- ``structure``: the notebook as the kernel knows it (cells run, cells on screen, the file).
- ``freshness``: each block's state (fresh, cached, stale and why, failed, running).
- ``protocol`` and ``comm``: the messages to and from the JupyterLab extension, and the comm.
- ``display``: status lines, the ``%blocks`` table, DAG pictures.
"""
