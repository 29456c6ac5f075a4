"""YAML text to validated models, with every problem named by its YAML path on one line.

What belongs here: loading YAML text with line numbers in its error, and turning pydantic's
errors into ``triggers[0].schedule_interval: message`` problems, with a did-you-mean for an
unknown key found by walking the models along the error's path. The models themselves live in
``triggers``, ``notifications`` and ``settings``.
"""

from __future__ import annotations

import types
import typing
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from jupyter_blocks.core.errors import ConfigError, did_you_mean

_TYPE_TAGS = frozenset({"datetime", "date", "str", "int", "float", "bool", "list", "dict", "none"})


def load_yaml(text: str, where: str, line_offset: int = 0) -> Any:
    """Parse YAML ``text``; ``ConfigError`` names ``where`` and the line of the problem.

    Args:
        text: The YAML document.
        where: What the text is, for messages (``%%pipeline``, a file path).
        line_offset: Lines before ``text`` in what the person sees (a cell's magic line).
    """
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" at line {mark.line + 1 + line_offset}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or type(exc).__name__
        raise ConfigError(f"{where} is not valid YAML{line}: {problem}") from None


def yaml_path(location: tuple[int | str, ...]) -> str:
    """``("triggers", 0, "settings")`` as ``triggers[0].settings``."""
    path = ""
    for part in location:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


def describe_errors(exc: ValidationError, root: type[BaseModel],
                    prefix: tuple[int | str, ...] = ()) -> list[str]:
    """Every pydantic error of a ``root`` model as ``path: message``, in pydantic's order.

    Args:
        exc: The validation error.
        root: The model that was validated (to find the model owning an unknown key).
        prefix: Path of the validated value inside the document (``("triggers", 0)``).
    """
    problems = []
    for error in exc.errors():
        location = tuple(part for part in error["loc"] if not _is_union_tag(part))
        path = yaml_path(prefix + location)
        if error["type"] == "extra_forbidden":
            owner = _model_at(root, location[:-1])
            known = list(owner.model_fields) if owner is not None else []
            message = "unknown key" + did_you_mean(str(location[-1]), known)
        else:
            message = error["msg"]
            message = message.removeprefix("Value error, ")
            if message[:1].isupper() and not message[1:2].isupper():
                message = message[0].lower() + message[1:]
        problems.append(f"{path}: {message}" if path else message)
    return problems


def raise_problems(where: str, problems: list[str]) -> None:
    """Raise one ``ConfigError`` listing every problem, or return when there is none."""
    if problems:
        raise ConfigError(f"{where} " + "; ".join(problems))


def _is_union_tag(part: int | str) -> bool:
    # pydantic puts the union member it tried into the location ("datetime", "list[str]").
    return isinstance(part, str) and ("[" in part or part in _TYPE_TAGS)


def _model_at(root: type[BaseModel], location: tuple[int | str, ...]) -> type[BaseModel] | None:
    model: type[BaseModel] | None = root
    for part in location:
        if model is None:
            return None
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part)
        if field is None:
            return None
        model = _model_in(field.annotation)
    return model


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType, list, tuple):
        for argument in typing.get_args(annotation):
            found = _model_in(argument)
            if found is not None:
                return found
    return None
