"""The exception hierarchy: one root, ``BlocksError``, and a subclass per kind of failure.

Every message is one line a person can act on: it names the block, cell, option or profile,
says what was expected and what was found, and suggests the near match when there is one.
Subclasses keep their constructor arguments in ``args`` so they pickle across processes.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jupyter_blocks.core.problems import Problem


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
    """The blocks do not form a valid DAG; ``problems`` lists every problem found.

    Args:
        problems: :class:`~jupyter_blocks.core.problems.Problem` records (a plain message is
            taken as a problem of kind ``invalid``).
    """

    def __init__(self, problems: Iterable[Problem | str]) -> None:
        from jupyter_blocks.core.problems import Problem

        records = tuple(p if isinstance(p, Problem) else Problem("invalid", str(p))
                        for p in problems)
        super().__init__(records)
        self.problems = records

    def __str__(self) -> str:
        return "; ".join(p.message for p in self.problems)

    def of_kind(self, kind: str) -> tuple[Problem, ...]:
        """The problems of one kind (``unknown_upstream``, ``cycle``, ...)."""
        return tuple(p for p in self.problems if p.kind == kind)


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


class BlockFailed(BlocksError):
    """A block raised, failed a test or timed out while running.

    The one exception for a failed block everywhere: a task raises it in whatever process runs
    the block (it pickles with its facts only, since the original exception may not), the runner
    records it, and a notebook cell raises it again so IPython shows the block's own traceback
    (``_render_traceback_``) in notebook coordinates.

    Args:
        message: One line naming the block and what went wrong.
        traceback: The block's traceback, with its cell or file line numbers.
        attempts: How many attempts were made.
        seconds: Time spent on all attempts.
        output: What the block printed and logged, when it ran in a worker process.
        tests: ``(passed, total)`` of its ``@test`` functions when a test failed.
        details: Extra lines shown after the traceback (blocks not run because of it).
    """

    exit_code = 1

    def __init__(self, message: str, traceback: str = "", *, attempts: int = 1,
                 seconds: float = 0.0, output: str = "", tests: tuple[int, int] = (0, 0),
                 details: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.traceback = traceback
        self.attempts = attempts
        self.seconds = seconds
        self.output = output
        self.tests = tests
        self.details = tuple(details)

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_block_failed, (self.message, self.traceback, self.attempts, self.seconds,
                                        self.output, self.tests, self.details))

    def _render_traceback_(self) -> list[str]:
        """What IPython shows for this error in a cell: the block's traceback, then the message."""
        lines = [self.traceback.rstrip()] if self.traceback else []
        return [*lines, *self.details, f"\x1b[31m{self.message}\x1b[0m"]


def _rebuild_block_failed(message: str, traceback: str, attempts: int, seconds: float,
                          output: str, tests: tuple[int, int], details: Sequence[str]
                          ) -> BlockFailed:
    return BlockFailed(message, traceback, attempts=attempts, seconds=seconds, output=output,
                       tests=tests, details=details)


def closest(word: str, choices: Iterable[str]) -> str | None:
    """The choice closest to ``word``, if any is close enough to be a likely typo."""
    matches = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return matches[0] if matches else None


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """Return ``" (did you mean `x`?)"`` for the closest choice, or an empty string."""
    match = closest(word, choices)
    return f" (did you mean `{match}`?)" if match else ""


def missing_extra(package: str, extra: str) -> MissingDependencyError:
    """Build the error for a missing optional dependency."""
    return MissingDependencyError(
        f"{package} is not installed: pip install 'jupyter-blocks[{extra}]'"
    )
