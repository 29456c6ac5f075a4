"""The ``metadata.yaml`` model: one pipeline's blocks, as Mage writes it and as we write it.

What belongs here: the pydantic models (so a bad file is one error line with its YAML path, like
``blocks[2].upstream_blocks``), reading a file into them, and where each block type's files live.
Mage's own keys (``status``, ``executor_type``, ``widgets``...) are accepted here and kept by the
importer in the ``%%pipeline`` cell; any other key is an error. Writing the file, as Mage writes
it, is ``mage_layout``'s.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from jupyter_blocks.core.block import DEFAULT_RETRY_DELAY
from jupyter_blocks.core.errors import ConfigError
from jupyter_blocks.project.validation import describe_errors

#: Block type -> the project folder of its files (Mage's layout).
FOLDERS = {
    "data_loader": "data_loaders",
    "transformer": "transformers",
    "data_exporter": "data_exporters",
    "sensor": "sensors",
    "condition": "conditionals",
    "custom": "custom",
    "callback": "callbacks",
}
#: Mage block type spellings -> ours.
MAGE_TYPES = {"conditional": "condition"}
EXTENSIONS = {"python": ".py", "sql": ".sql", "r": ".r"}


def block_file(block_type: str, name: str, lang: str, pipeline: str | None = None) -> str:
    """A block file's path in the project; ``pipeline`` for a detached copy."""
    folder = FOLDERS.get(block_type, "custom")
    middle = f"{pipeline}/" if pipeline else ""
    return f"{folder}/{middle}{name}{EXTENSIONS.get(lang, '.py')}"


class RetryConfig(BaseModel):
    """``retry_config:`` of a block (Mage's keys)."""

    model_config = ConfigDict(extra="forbid")

    retries: int = Field(0, ge=0)
    delay: float = Field(DEFAULT_RETRY_DELAY, ge=0)
    exponential_backoff: bool | None = None
    max_delay: float | None = None


class BlockMeta(BaseModel):
    """One entry of ``blocks:``."""

    model_config = ConfigDict(extra="forbid")

    uuid: str
    name: str | None = None
    type: str
    language: str = "python"
    upstream_blocks: list[str] = Field(default_factory=list)
    downstream_blocks: list[str] = Field(default_factory=list)
    configuration: dict[str, Any] = Field(default_factory=dict)
    retry_config: RetryConfig | None = None
    timeout: float | None = None
    # Mage's keys: accepted, not used.
    all_upstream_blocks_executed: Any = None
    callback_blocks: Any = None
    color: Any = None
    conditional_blocks: Any = None
    content: Any = None
    executor_config: Any = None
    executor_type: Any = None
    extension_uuid: Any = None
    groups: Any = None
    has_callback: Any = None
    replicated_block: Any = None
    status: Any = None
    tags: Any = None


class PipelineMeta(BaseModel):
    """A whole ``metadata.yaml``."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    uuid: str | None = None
    type: str = "python"
    description: str | None = None
    variables: dict[str, Any] | None = None
    blocks: list[BlockMeta] = Field(default_factory=list)
    #: Mage's add-on blocks: each names the blocks it answers (callbacks) or gates
    #: (conditionals) in its ``upstream_blocks``.
    callbacks: list[BlockMeta] = Field(default_factory=list)
    conditionals: list[BlockMeta] = Field(default_factory=list)
    # Mage's keys: accepted, not used.
    cache_block_output_in_memory: Any = None
    concurrency_config: Any = None
    created_at: Any = None
    data_integration: Any = None
    executor_config: Any = None
    executor_count: Any = None
    executor_type: Any = None
    extensions: Any = None
    notification_config: Any = None
    remote_variables_dir: Any = None
    retry_config: Any = None
    run_pipeline_in_one_process: Any = None
    settings: Any = None
    spark_config: Any = None
    tags: Any = None
    updated_at: Any = None
    variables_dir: Any = None
    widgets: Any = None


def read_metadata(path: Path) -> PipelineMeta:
    """Read and validate a ``metadata.yaml``; ``ConfigError`` names the file and YAML path."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path} does not exist") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {' '.join(str(exc).split())}") from None
    if not isinstance(document, dict):
        raise ConfigError(f"{path} must be a mapping with `blocks:`, got "
                          f"{type(document).__name__}")
    try:
        return PipelineMeta.model_validate(document)
    except ValidationError as exc:
        raise ConfigError(f"{path}: {'; '.join(describe_errors(exc, PipelineMeta))}") from None
