"""Load and validate ``newsbote.toml`` into a :class:`Config`.

Errors name the file, the line, the key, what was expected and what was found,
and suggest the closest known name for a misspelling.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from newsbote.config.locate import locate
from newsbote.config.schema import (
    BotConfig,
    Config,
    DestinationConfig,
    ServiceConfig,
    WebConfig,
)
from newsbote.errors import ConfigError
from newsbote.urlmask import mask_url as mask_url  # re-exported for older imports

DEFAULT_PATH = "newsbote.toml"
ENV_PREFIX = "NEWSBOTE_"


@dataclass(frozen=True, slots=True)
class LoadedConfig:
    """A validated config and where it came from."""

    config: Config
    path: Path
    destination_options: dict[str, BaseModel]

    @property
    def base_dir(self) -> Path:
        return self.path.parent


def config_path(path: str | os.PathLike[str] | None = None) -> Path:
    return Path(path or os.environ.get(f"{ENV_PREFIX}CONFIG") or DEFAULT_PATH)


def load_config(path: str | os.PathLike[str] | None = None) -> LoadedConfig:
    """Read, validate and resolve the config file at ``path``."""
    file = config_path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            "config file not found", file=str(file), hint="run 'newsbote init' to write one"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file: {exc}", file=str(file)) from exc
    return parse_config(text, file)


def parse_config(text: str, file: Path) -> LoadedConfig:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line_match = re.search(r"line (\d+)", str(exc))
        raise ConfigError(
            f"not valid TOML: {exc}",
            file=str(file),
            line=int(line_match.group(1)) if line_match else None,
        ) from exc
    variables = _apply_environment(raw)
    _resolve_paths(raw, file.parent)
    try:
        config = Config.model_validate(raw)
    except ValidationError as exc:
        error = _config_error(exc, text, file, Config)
        variable = variables.get(error.key or "")
        if variable is not None:  # the file's line would blame a value it does not hold
            error = ConfigError(
                error.message, file=f"environment variable {variable}", hint=error.hint
            )
        raise error from None
    options = _check_references(config, text, file)
    return LoadedConfig(config=config, path=file, destination_options=options)


def _apply_environment(raw: dict[str, Any]) -> dict[str, str]:
    """``NEWSBOTE_STORE``, ``NEWSBOTE_LANGUAGE`` and ``NEWSBOTE_<SECTION>_<KEY>`` override the
    file; return the variable that set each key (``"web.port"``: ``"NEWSBOTE_WEB_PORT"``)."""
    variables: dict[str, str] = {}
    for top in ("store", "language"):
        variable = f"{ENV_PREFIX}{top.upper()}"
        value = os.environ.get(variable)
        if value:
            raw[top] = value
            variables[top] = variable
    for section, model in (("bot", BotConfig), ("web", WebConfig), ("service", ServiceConfig)):
        for key in model.model_fields:
            variable = f"{ENV_PREFIX}{section.upper()}_{key.upper()}"
            value = os.environ.get(variable)
            if value is not None:
                raw.setdefault(section, {})[key] = value
                variables[f"{section}.{key}"] = variable
    return variables


def _suggest(word: str, choices: list[str]) -> str | None:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else None


def _config_error(
    exc: ValidationError,
    text: str,
    file: Path,
    model: type[BaseModel],
    prefix: tuple[Any, ...] = (),
) -> ConfigError:
    error = exc.errors()[0]
    loc = prefix + tuple(error["loc"])
    key = ".".join(str(part) for part in loc if isinstance(part, str))
    found = error.get("input")
    hint = None
    if error["type"] == "extra_forbidden":
        unknown = str(loc[-1])
        parent = _model_at(model, tuple(error["loc"])[:-1])
        message = f"unknown option {unknown!r}"
        if parent is not None:
            hint = _suggest(unknown, list(parent.model_fields))
            if hint is None:
                hint = "known options: " + ", ".join(parent.model_fields)
    elif error["type"] == "literal_error":
        expected = error.get("ctx", {}).get("expected", "")
        choices = re.findall(r"'([^']*)'", str(expected))
        message = f"expected one of {expected}, found {found!r}"
        hint = _suggest(str(found), choices)
    elif error["type"] == "missing":
        message = "this option is required"
    else:
        message = error["msg"].removeprefix("Value error, ")
        if found is not None and "found" not in message:
            message += f", found {found!r}"
    line = locate(text, loc)
    return ConfigError(message, file=str(file), line=line, key=key or None, hint=hint)


def _model_at(model: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel] | None:
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        field = current.model_fields.get(part)
        if field is None:
            return None
        annotation = field.annotation
        inner = getattr(annotation, "__args__", None)
        current = inner[0] if inner else annotation
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _resolve_paths(raw: dict[str, Any], base: Path) -> None:
    """Relative SQLite and file paths are relative to the config file, not the working dir.

    Done on the raw document, before validation, so no model is built twice.
    """
    store = raw.get("store")
    if (
        isinstance(store, str)
        and store.startswith("sqlite:///")
        and not store.startswith("sqlite:////")
    ):
        relative = store[len("sqlite:///") :]
        if relative and relative != ":memory:":
            raw["store"] = "sqlite:///" + str((base / relative).resolve())
    sources = raw.get("sources")
    if isinstance(sources, list):
        for source in sources:
            url = source.get("url") if isinstance(source, dict) else None
            if isinstance(url, str) and url and "://" not in url:
                source["url"] = str((base / url).resolve())


def _check_references(config: Config, text: str, file: Path) -> dict[str, BaseModel]:
    from newsbote.deliver import destination_kinds

    def fail(message: str, loc: tuple[Any, ...], hint: str | None = None) -> ConfigError:
        return ConfigError(
            message,
            file=str(file),
            line=locate(text, loc),
            key=".".join(str(p) for p in loc if isinstance(p, str)),
            hint=hint,
        )

    for table, names in (
        ("sources", [s.name for s in config.sources]),
        ("destinations", [d.name for d in config.destinations]),
    ):
        seen: set[str] = set()
        for index, name in enumerate(names):
            if name in seen:
                raise fail(f"duplicate name {name!r}", (table, index, "name"))
            seen.add(name)

    kinds = destination_kinds()
    options: dict[str, BaseModel] = {}
    for index, destination in enumerate(config.destinations):
        kind = kinds.get(destination.kind)
        if kind is None:
            raise fail(
                f"unknown destination kind {destination.kind!r}",
                ("destinations", index, "kind"),
                _suggest(destination.kind, sorted(kinds))
                or "known kinds: " + ", ".join(sorted(kinds)),
            )
        options[destination.name] = _destination_options(
            destination, kind.Options, text, file, index
        )

    source_names = [s.name for s in config.sources]
    destination_names = [d.name for d in config.destinations]
    for index, route in enumerate(config.routes):
        for name in route.sources:
            if name != "*" and name not in source_names:
                raise fail(
                    f"unknown source {name!r}",
                    ("routes", index, "sources"),
                    _suggest(name, source_names),
                )
        for name in route.destinations:
            if name not in destination_names:
                raise fail(
                    f"unknown destination {name!r}",
                    ("routes", index, "destinations"),
                    _suggest(name, destination_names),
                )
        if route.template is not None:
            template = Path(route.template)
            if not template.is_absolute():
                template = file.parent / template
            if not template.is_file():
                raise fail(f"template file not found: {template}", ("routes", index, "template"))
    return options


def _destination_options(
    destination: DestinationConfig,
    options_model: type[BaseModel],
    text: str,
    file: Path,
    index: int,
) -> BaseModel:
    extra = dict(destination.model_extra or {})
    try:
        return options_model.model_validate(extra)
    except ValidationError as exc:
        raise _config_error(exc, text, file, options_model, ("destinations", index)) from None
