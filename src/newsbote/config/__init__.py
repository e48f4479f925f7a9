"""Configuration: schema, loading with precise errors, and comment-keeping edits."""

from newsbote.config.edit import NewSource, add_source, add_sources, remove_source
from newsbote.config.load import LoadedConfig, config_path, load_config, mask_url, parse_config
from newsbote.config.schema import (
    BotConfig,
    Config,
    DestinationConfig,
    FirstRun,
    RouteConfig,
    ServiceConfig,
    SourceConfig,
    WebConfig,
    parse_duration,
    parse_first_run,
)
from newsbote.config.template import initial_config

__all__ = [
    "BotConfig",
    "Config",
    "DestinationConfig",
    "FirstRun",
    "LoadedConfig",
    "NewSource",
    "RouteConfig",
    "ServiceConfig",
    "SourceConfig",
    "WebConfig",
    "add_source",
    "add_sources",
    "config_path",
    "initial_config",
    "load_config",
    "mask_url",
    "parse_config",
    "parse_duration",
    "parse_first_run",
    "remove_source",
]
