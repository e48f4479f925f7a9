"""Configuration: schema, loading with precise errors, and comment-keeping edits."""

from newsbote.config.edit import add_source, remove_source
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
    "RouteConfig",
    "ServiceConfig",
    "SourceConfig",
    "WebConfig",
    "add_source",
    "config_path",
    "initial_config",
    "load_config",
    "mask_url",
    "parse_config",
    "parse_duration",
    "parse_first_run",
    "remove_source",
]
