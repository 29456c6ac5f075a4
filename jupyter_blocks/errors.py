"""The exception hierarchy: one root, ``BlocksError``, and a subclass per kind of failure.

Every message is one line a person can act on: it names the block, cell, option or profile,
says what was expected and what was found, and suggests the near match when there is one.
Subclasses keep their constructor arguments in ``args`` so they pickle across processes.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class BlocksError(Exception):
    """Root of every error jupyter-blocks raises on purpose."""

    #: Exit code the CLI uses for this kind of error (2: bad input, 1: a block failed).
    exit_code = 2


class BlockSpecError(BlocksError):
    """A ``%%block`` line or block body is malformed.

    Attributes:
        code: A stable machine-readable code (shared with the TypeScript parser's vectors).
    """

    def __init__(self, message: str, code: str = "invalid") -> None:
        super().__init__(message, code)
        self.message = message
        self.code = code

    def __str__(self) -> str:
        return self.message


class GraphError(BlocksError):
    """The blocks do not form a valid DAG; ``problems`` lists every problem found."""

    def __init__(self, problems: Iterable[str]) -> None:
        problems = tuple(problems)
        super().__init__(problems)
        self.problems = problems

    def __str__(self) -> str:
        return "; ".join(self.problems)


class ConfigError(BlocksError):
    """A configuration file or value (``io_config.yaml``, ``metadata.yaml``, variables) is wrong."""


class SharedFilesError(ConfigError):
    """An export would overwrite block files other pipelines use with different content.

    Attributes:
        conflicts: ``(path, pipelines)`` per file: its path in the project and the other
            pipelines that use it, sorted.
    """

    def __init__(self, conflicts: Iterable[tuple[str, Iterable[str]]]) -> None:
        conflicts = tuple((path, tuple(sorted(users))) for path, users in conflicts)
        super().__init__(conflicts)
        self.conflicts = conflicts

    def __str__(self) -> str:
        listed = "; ".join(f"{path} (used by {', '.join(users)})" for path, users in self.conflicts)
        return (
            f"block files used by other pipelines have different content: {listed}: "
            "use --detach to give this pipeline its own copies, or --force to overwrite"
        )


class ConnectorError(BlocksError):
    """A connector (PostgreSQL, GCS, BigQuery, DuckDB) failed; names the profile, never secrets."""

    exit_code = 1


class MissingDependencyError(BlocksError):
    """An optional dependency is not installed; the message names the extra to install."""


class BlockFailedError(BlocksError):
    """A block raised, failed a test or timed out while running."""

    exit_code = 1


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """Return ``" (did you mean `x`?)"`` for the closest choice, or an empty string."""
    matches = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean `{matches[0]}`?)" if matches else ""


def missing_extra(package: str, extra: str) -> MissingDependencyError:
    """Build the error for a missing optional dependency."""
    return MissingDependencyError(
        f"{package} is not installed: pip install 'jupyter-blocks[{extra}]'"
    )
