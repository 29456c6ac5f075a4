"""Problems: what is wrong with a pipeline's structure or a block's spec, as typed records.

What belongs here: :class:`Problem`, the record every check reports (the DAG's duplicates,
self-dependencies, unknown upstreams and cycles; a pipeline with no block; cells whose
``%%block`` line does not parse),
so callers decide by ``kind`` and the blocks involved, never by matching message text. The
message is the one line a person reads; ``suggestion`` is the near name when there is one.
"""

from __future__ import annotations

from dataclasses import dataclass

#: The kinds of problem the checks report.
KINDS = ("duplicate_name", "self_upstream", "unknown_upstream", "cycle", "bad_on", "bad_line",
         "no_blocks", "invalid")


@dataclass(frozen=True)
class Problem:
    """One problem found in a pipeline.

    Attributes:
        kind: What is wrong (one of :data:`KINDS`).
        message: One line naming the block and cell, what was expected and what was found.
        blocks: The blocks involved (every member of a cycle, the block with a bad upstream).
        cell: Where the (first) block is, as the user sees it (``cell 9``, a file path).
        name: The name the problem is about (the unknown upstream), if any.
        suggestion: The near match for ``name``, if any.
    """

    kind: str
    message: str
    blocks: tuple[str, ...] = ()
    cell: str | None = None
    name: str | None = None
    suggestion: str | None = None

    def __str__(self) -> str:
        return self.message

    def to_dict(self) -> dict[str, object]:
        """The JSON form (for the labextension and ``--json``)."""
        return {"kind": self.kind, "message": self.message, "blocks": list(self.blocks),
                "cell": self.cell, "name": self.name, "suggestion": self.suggestion}
