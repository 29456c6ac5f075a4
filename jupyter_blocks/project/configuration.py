"""A block's ``configuration`` as Mage keeps it in ``metadata.yaml``, both ways.

What belongs here: the keys of a block's options that live in Mage's ``configuration`` mapping
(``data_provider``, ``data_provider_profile``, ``dynamic``, ``reduce_output``, and ours that Mage
ignores: ``data_provider_profile_variable`` (a ``--profile "{{ name }}"``), ``no_cache``,
``poke_interval``, ``max_children``, ``over_max``, ``max_parallel``), so the exporter writes them,
the reader reads them back, and a run passes the same mapping to blocks as Mage's
``kwargs['configuration']``. No pydantic here: the runner imports it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jupyter_blocks.core.block import DEFAULT_POKE_INTERVAL, BlockSpec, option_variable


def configuration_of(spec: BlockSpec) -> dict[str, Any]:
    """The ``configuration`` mapping of a block's options (empty values left out)."""
    configuration: dict[str, Any] = {}
    variable = option_variable(spec.profile)
    if variable is not None:
        # Mage reads data_provider_profile as a name; the variable is ours.
        configuration["data_provider_profile_variable"] = variable
    elif spec.profile:
        configuration["data_provider_profile"] = spec.profile
    if spec.connector:
        configuration["data_provider"] = spec.connector
    if spec.dynamic:
        configuration["dynamic"] = True
    if spec.reduce:
        configuration["reduce_output"] = True
    if spec.no_cache:
        configuration["no_cache"] = True
    if spec.poke_interval != DEFAULT_POKE_INTERVAL:
        configuration["poke_interval"] = spec.poke_interval
    if spec.max_children is not None:
        configuration["max_children"] = spec.max_children
    if spec.over_max != "fail":
        configuration["over_max"] = spec.over_max
    if spec.max_parallel is not None:
        configuration["max_parallel"] = spec.max_parallel
    return configuration


def options_of(configuration: Mapping[str, Any]) -> dict[str, Any]:
    """The block options a ``configuration`` mapping holds (``BlockSpec`` field -> value)."""
    variable = configuration.get("data_provider_profile_variable")
    options: dict[str, Any] = {
        "profile": f"{{{{ {variable} }}}}" if variable else configuration.get(
            "data_provider_profile"),
        "connector": configuration.get("data_provider"),
        "dynamic": bool(configuration.get("dynamic")),
        "reduce": bool(configuration.get("reduce_output")),
        "no_cache": bool(configuration.get("no_cache")),
    }
    if configuration.get("poke_interval") is not None:
        options["poke_interval"] = float(configuration["poke_interval"])
    for key in ("max_children", "max_parallel"):
        if configuration.get(key) is not None:
            options[key] = int(configuration[key])
    if configuration.get("over_max"):
        options["over_max"] = str(configuration["over_max"])
    return options
