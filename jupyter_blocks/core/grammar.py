"""The ``%%block`` line: its options, their parser, and the rendering of a spec back to a line.

What belongs here: the option table, the tokenizer and parser that turn a cell into a
:class:`~jupyter_blocks.core.block.BlockSpec`, the ``%%block?`` help, and the canonical line of a
spec. The grammar is deliberately small and table-driven so the TypeScript parser of the
labextension can mirror it exactly; both run the shared vectors in ``tests/data/magic_lines.json``.
(argparse is not used: its prefix abbreviations, last-wins repeated options and negative-number
heuristics would be behaviour the frontend had to copy.)
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from jupyter_blocks.core.block import (
    BLOCK_TYPES,
    CONNECTORS,
    DEFAULT_POKE_INTERVAL,
    DEFAULT_RETRY_DELAY,
    LANGUAGES,
    OVER_MAX_POLICIES,
    RESERVED_NAMES,
    BlockSpec,
)
from jupyter_blocks.core.errors import BlockSpecError, did_you_mean

MAGIC = "%%block"

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_INT = re.compile(r"^\d+$")
_NUMBER = re.compile(r"^\d+(\.\d+)?$")


@dataclass(frozen=True)
class _Option:
    flag: str
    dest: str
    kind: str  # "flag", "value" or "list"
    default: Any
    help: str
    alias: str | None = None
    convert: Callable[[str, str], Any] | None = None


def _choice(choices: tuple[str, ...]) -> Callable[[str, str], str]:
    def convert(flag: str, text: str) -> str:
        if text not in choices:
            raise BlockSpecError(
                f"{flag} must be one of {', '.join(choices)}, got `{text}`"
                + did_you_mean(text, choices),
                "bad_value",
            )
        return text

    return convert


def _count(flag: str, text: str) -> int:
    if not _INT.match(text):
        raise BlockSpecError(f"{flag} must be a whole number >= 0, got `{text}`", "bad_value")
    return int(text)


def _seconds(positive: bool) -> Callable[[str, str], float]:
    def convert(flag: str, text: str) -> float:
        if not _NUMBER.match(text) or (positive and float(text) == 0):
            expected = "a number of seconds > 0" if positive else "a number of seconds >= 0"
            raise BlockSpecError(f"{flag} must be {expected}, got `{text}`", "bad_value")
        return float(text)

    return convert


def _text(flag: str, text: str) -> str:
    return text


def _positive(flag: str, text: str) -> int:
    if not _INT.match(text) or int(text) == 0:
        raise BlockSpecError(f"{flag} must be a whole number >= 1, got `{text}`", "bad_value")
    return int(text)


def _boolean(flag: str, text: str) -> bool:
    if text not in ("true", "false"):
        raise BlockSpecError(f"{flag} must be true or false, got `{text}`"
                             + did_you_mean(text, ("true", "false")), "bad_value")
    return text == "true"


OPTIONS: tuple[_Option, ...] = (
    _Option("--type", "type", "value", None, "block type: " + "|".join(BLOCK_TYPES) +
            " (inferred from the decorator when absent)", "-t", _choice(BLOCK_TYPES)),
    _Option("--upstream", "upstream", "list", (), "upstream blocks, in argument order", "-u"),
    _Option("--lang", "lang", "value", "python", "python|sql|r", None, _choice(LANGUAGES)),
    _Option("--profile", "profile", "value", None, "io_config.yaml profile", None, _text),
    _Option("--connector", "connector", "value", None,
            "database for a SQL block: " + "|".join(CONNECTORS), None, _choice(CONNECTORS)),
    _Option("--retries", "retries", "value", 0, "extra attempts after a failure", None, _count),
    _Option("--retry-delay", "retry_delay", "value", DEFAULT_RETRY_DELAY,
            "seconds before the first retry (doubles each time)", None, _seconds(False)),
    _Option("--max-retry-delay", "max_retry_delay", "value", None,
            "the longest wait between two attempts", None, _seconds(False)),
    _Option("--exponential-backoff", "exponential_backoff", "value", None,
            "true|false: double the wait after each retry (default true)", None, _boolean),
    _Option("--timeout", "timeout", "value", None,
            "seconds an attempt may run (a sensor: may wait)", None, _seconds(True)),
    _Option("--poke-interval", "poke_interval", "value", DEFAULT_POKE_INTERVAL,
            "seconds between a sensor's checks", None, _seconds(True)),
    _Option("--dynamic", "dynamic", "flag", False, "output is a list; downstream runs per item"),
    _Option("--reduce", "reduce", "flag", False,
            "a dynamic child whose outputs are gathered into one list"),
    _Option("--max-children", "max_children", "value", None,
            "the most items a dynamic block may fan out to", None, _positive),
    _Option("--over-max", "over_max", "value", "fail",
            "fail|limit: beyond --max-children, fail or run the first ones", None,
            _choice(OVER_MAX_POLICIES)),
    _Option("--max-parallel", "max_parallel", "value", None,
            "how many of the block's dynamic children run at once", None, _positive),
    _Option("--on", "on", "list", (), "a callback block's parent blocks"),
    _Option("--no-cache", "no_cache", "flag", False, "always run; never use the cache"),
)
_BY_FLAG = {o.flag: o for o in OPTIONS} | {o.alias: o for o in OPTIONS if o.alias}


def is_block_line(line: str) -> bool:
    """Whether ``line`` starts a block cell (``%%block`` then whitespace or the end)."""
    return line.startswith(MAGIC) and (len(line) == len(MAGIC) or line[len(MAGIC)].isspace())


def check_name(name: str, what: str = "block name") -> str:
    """Return ``name`` if it is a valid block name, else raise ``BlockSpecError`` (bad_name)."""
    if not _NAME.match(name) or keyword.iskeyword(name) or name in RESERVED_NAMES:
        raise BlockSpecError(
            f"`{name}` is not a valid {what}: use letters, digits and _, not starting with a "
            "digit, and not a Python keyword or `kwargs`/`args`",
            "bad_name",
        )
    return name


def tokenize(text: str) -> list[str]:
    """Split on whitespace, honouring simple single and double quotes."""
    tokens: list[str] = []
    current: list[str] = []
    in_token = False
    quote: str | None = None
    for char in text:
        if quote:
            if char == quote:
                quote = None
            else:
                current.append(char)
        elif char in "'\"":
            quote, in_token = char, True
        elif char.isspace():
            if in_token:
                tokens.append("".join(current))
                current, in_token = [], False
        else:
            current.append(char)
            in_token = True
    if quote:
        raise BlockSpecError(f"unclosed {quote} quote in the %%block line", "unclosed_quote")
    if in_token:
        tokens.append("".join(current))
    return tokens


def parse_magic_line(line: str) -> dict[str, Any] | None:
    """Parse a ``%%block`` line into a dict of options (with ``name``).

    Returns:
        The options, or None when the line does not start a block cell.

    Raises:
        BlockSpecError: The line is malformed; ``code`` says how (see the shared vectors).
    """
    if not is_block_line(line):
        return None
    return parse_arguments(line[len(MAGIC):])


def parse_arguments(text: str) -> dict[str, Any]:
    """Parse the part of a ``%%block`` line after the magic's name."""
    tokens = tokenize(text)
    if not tokens or tokens[0].startswith("-"):
        raise BlockSpecError("%%block needs a name: %%block NAME [options]", "missing_name")
    result: dict[str, Any] = {"name": check_name(tokens[0])}
    result.update({o.dest: o.default for o in OPTIONS})
    seen: set[str] = set()
    lists: dict[str, list[str]] = {o.dest: [] for o in OPTIONS if o.kind == "list"}
    index = 1
    while index < len(tokens):
        token = tokens[index]
        index += 1
        if not token.startswith("-"):
            raise BlockSpecError(
                f"unexpected argument `{token}`: %%block takes one name, then options",
                "unexpected_argument",
            )
        flag, has_inline, inline = token.partition("=")
        option = _BY_FLAG.get(flag)
        if option is None:
            raise BlockSpecError(
                f"unknown option `{flag}`" + did_you_mean(flag, [o.flag for o in OPTIONS]),
                "unknown_option",
            )
        if option.kind == "flag":
            if has_inline:
                raise BlockSpecError(f"{option.flag} takes no value", "unexpected_value")
            values: list[str] = []
        elif has_inline:
            values = [inline]
        else:
            values = []
            if option.kind == "value":
                # A value may start with "-" (so `--retries -1` is a bad value, not a
                # missing one) unless it is itself one of our options.
                if index < len(tokens) and tokens[index].partition("=")[0] not in _BY_FLAG:
                    values.append(tokens[index])
                    index += 1
            else:
                while index < len(tokens) and not tokens[index].startswith("-"):
                    values.append(tokens[index])
                    index += 1
            if not values:
                raise BlockSpecError(f"{option.flag} needs a value", "missing_value")
        if option.kind == "list":
            listed = lists[option.dest]
            for value in values:
                check_name(value, f"upstream name in {option.flag}"
                           if option.dest == "upstream" else f"block name in {option.flag}")
                if value in listed:
                    what = "upstream" if option.dest == "upstream" else f"{option.flag} block"
                    raise BlockSpecError(f"{what} `{value}` is listed twice",
                                         "duplicate_upstream")
                listed.append(value)
            continue
        if option.dest in seen:
            raise BlockSpecError(f"{option.flag} is given twice", "duplicate_option")
        seen.add(option.dest)
        if option.kind == "flag":
            result[option.dest] = True
        else:
            assert option.convert is not None
            result[option.dest] = option.convert(option.flag, values[0])
    result.update(lists)
    return result


def parse_cell(
    cell_source: str, *, origin: str = "", cell_id: str | None = None
) -> BlockSpec | None:
    """Parse a notebook cell into a ``BlockSpec``, or None if it is not a block cell."""
    first, _, body = cell_source.partition("\n")
    options = parse_magic_line(first.rstrip("\r"))
    if options is None:
        return None
    for option in OPTIONS:
        if option.kind == "list":
            options[option.dest] = tuple(options[option.dest])
    return BlockSpec(source=body, origin=origin, first_line=2, cell_id=cell_id, **options)


def help_text() -> str:
    """The ``%%block?`` help: usage and every option."""
    lines = [
        "%%block NAME [options]",
        "",
        "Make this cell a pipeline block named NAME and run it, taking its upstream blocks'",
        "outputs from the cache when they are fresh and running them first when they are not.",
        "",
        "Body forms:",
        "  decorated  a function under @data_loader/@transformer/@data_exporter/@custom/...,",
        "             one positional argument per upstream, variables as **kwargs, and any",
        "             @test functions, which are run on the output.",
        "  plain      no decorated function: upstream outputs are bound to their names,",
        "             `kwargs` holds the variables, the last expression is the output.",
        "",
        "Options:",
    ]
    for option in OPTIONS:
        flags = f"{option.alias}, {option.flag}" if option.alias else f"    {option.flag}"
        if option.kind == "value":
            flags += " VALUE"
        elif option.kind == "list":
            flags += " NAME [NAME ...]"
        lines.append(f"  {flags:<28} {option.help}")
    return "\n".join(lines)


def render_magic_line(spec: BlockSpec) -> str:
    """Render a spec back to its canonical ``%%block`` line (options in table order)."""
    parts = [MAGIC, spec.name]
    for option in OPTIONS:
        value = getattr(spec, option.dest)
        if value == option.default:
            continue
        if option.kind == "flag":
            parts.append(option.flag)
        elif option.kind == "list":
            parts += [option.flag, *value]
        else:
            if isinstance(value, bool):
                text = "true" if value else "false"
            elif isinstance(value, float):
                text = _format_number(value)
            else:
                text = str(value)
            parts += [option.flag, _quote(text)]
    return " ".join(parts)


def _format_number(value: float) -> str:
    return str(int(value)) if value.is_integer() else repr(value)


def _quote(text: str) -> str:
    if text and not any(c.isspace() or c in "'\"" for c in text):
        return text
    return "'" + text + "'" if "'" not in text else '"' + text + '"'
