"""Flow configs, as Metaflow's ``Config``: a value read once when a run starts (a file, a JSON
text, or the config's default), parsed, frozen with the run and readable in every step as a
read-only :class:`ConfigValue`. The class configured with a run's configs is
:mod:`flowkit.authoring.configure`'s.

A config is a parameter whose value is settled before anything else, because the flow's
decorators may depend on it: the run stores it like a parameter (so a resume keeps it and a
step that reads it is re-run under reuse when it changes), and its record shows it.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
from collections.abc import Callable, Mapping
from typing import Any, NoReturn

from flowkit.authoring.delayed import DelayedExpr
from flowkit.authoring.delayed import plain as plain_value
from flowkit.authoring.parameters import Parameter, parameters_of
from flowkit.errors import ParameterError
from flowkit.fastdata import dataclass

#: On a configured class: the config values it was made with (attribute -> value).
CONFIGURED_ATTR = "_flowkit_configured"
#: Where ``@project`` keeps its arguments on a flow class.
PROJECT_ATTR = "_flowkit_project"

_IMMUTABLE = "ConfigValue is immutable"


class ConfigError(ParameterError):
    """A config's value is missing, cannot be read or parsed, or an expression over the
    configs fails."""


@dataclass(frozen=True)
class Settled:
    """A config's value as :func:`resolve_configs` settled it, passed on as it is."""

    value: Any


@dataclass(frozen=True)
class ConfigContext:
    """What a function given as a config's ``default`` or ``default_value`` is called with,
    as Metaflow's ``ParameterContext``: the flow, the user starting the run, the config."""

    flow_name: str
    user_name: str | None
    parameter_name: str
    flow_file: str | None = None


class ConfigValue(dict[str, Any]):
    """A config's value in a step: a read-only dict whose keys read as attributes too
    (``self.cfg.model.lr`` or ``self.cfg["model"]["lr"]``), nested mappings included."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        dict.__init__(self, {k: _wrap(v) for k, v in data.items()})

    def __getattr__(self, key: str) -> Any:
        if key.startswith("__"):
            raise AttributeError(key)
        try:
            return self[key]
        except KeyError:
            keys = ", ".join(repr(k) for k in self) or "none"
            raise AttributeError(f"the config has no key {key!r} (its keys: {keys})") from None

    def to_dict(self) -> dict[str, Any]:
        """The value as plain dicts and lists."""
        return {k: plain_value(v) for k, v in self.items()}

    def copy(self) -> ConfigValue:
        return ConfigValue(self)

    def __reduce__(self) -> tuple[Any, ...]:
        return (ConfigValue, (self.to_dict(),))

    def _immutable(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise TypeError(_IMMUTABLE)

    __setattr__ = __delattr__ = __setitem__ = __delitem__ = _immutable
    clear = update = setdefault = pop = popitem = __ior__ = _immutable


def _wrap(value: Any) -> Any:
    if isinstance(value, ConfigValue):
        return value
    if isinstance(value, Mapping):
        return ConfigValue(value)
    if isinstance(value, list | tuple):
        return type(value)(_wrap(v) for v in value)
    return value


class Config(Parameter):
    """A config of the flow, read when a run starts: ``--config NAME FILE``, ``--config-value
    NAME JSON``, ``flowkit.run(Flow, name={...})`` (a dict, a JSON text, or a ``pathlib.Path``
    to read), else the ``default`` file (relative to the working directory, then to the flow
    file) or ``default_value``. JSON unless ``parser`` (a callable, or a dotted name of one)
    says otherwise; ``plain=True`` keeps the parsed value as it is instead of a ConfigValue.

    In the class body, ``cfg.a.b`` (or ``config_expr("cfg.a.b")``) stands for a value that
    decorators and parameter defaults get once the run's configs are known.
    """

    def __init__(
        self,
        name: str,
        default: str | os.PathLike[str] | Callable[[ConfigContext], str] | None = None,
        default_value: Any = None,
        help: str | None = None,
        required: bool | None = None,
        parser: str | Callable[[str], Any] | None = None,
        plain: bool = False,
        show_default: bool = True,
    ) -> None:
        super().__init__(name, help=help, required=bool(required), show_default=show_default)
        self.kind = "config"
        self.default = os.fspath(default) if isinstance(default, os.PathLike) else default
        self.default_value = default_value
        self.parser = parser
        self.plain = plain
        self.expr = DelayedExpr(name)
        if default is not None and default_value is not None:
            self.problems.append(
                f"Config '{name}' has both default= (a file) and default_value=; keep one"
            )

    # -- in the class body: expressions over the config's value --------------------------------
    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.expr, name)

    def __getitem__(self, key: Any) -> Any:
        return self.expr[key]

    def keys(self) -> list[str]:
        """For ``@decorator(**cfg)``: the config's keys, once its value is known."""
        return self.expr.keys()

    # -- in a step: the run's value, read-only ---------------------------------------------------
    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            return self
        value = super().__get__(obj, owner)
        if self.plain or not isinstance(value, Mapping):
            return value
        cache = obj.__dict__.setdefault("_flowkit_config_views", {})
        if self.attr not in cache or cache[self.attr][0] is not value:
            cache[self.attr] = (value, ConfigValue(value))
        return cache[self.attr][1]

    @property
    def type_label(self) -> str:
        return "CONFIG"

    def convert(self, raw: Any) -> Any:
        """What was given (a dict, a JSON text, a ``pathlib.Path``) as the config's value."""
        if isinstance(raw, Settled):
            return raw.value
        if isinstance(raw, os.PathLike):
            return self.parse(_read(self, os.fspath(raw), "configuration file"))
        if isinstance(raw, str | bytes):
            return self.parse(raw.decode() if isinstance(raw, bytes) else raw)
        return self._checked(raw)

    def resolve(
        self, given: Any, *, is_given: bool, environ: Mapping[str, str] | None = None
    ) -> Any:
        return self.settle(given, is_given=is_given, context=ConfigContext("", None, self.name))

    def settle(self, given: Any, *, is_given: bool, context: ConfigContext) -> Any:
        """The run's value: what was given, else the default file, else ``default_value``
        (a function of them is called with ``context``, as Metaflow's are)."""
        if is_given and given is not None:
            return self.convert(given)
        default = self.default(context) if callable(self.default) else self.default
        if default is not None:
            path = self._default_path(str(default), context.flow_file)
            return self.parse(_read(self, path, "default configuration file"))
        value = self.default_value
        value = value(context) if callable(value) else value
        if value is not None:
            return self.convert(value)
        if self.required:
            raise ConfigError(
                f"missing configuration for '{self.name}'",
                f"pass --config {self.name} FILE or --config-value {self.name} JSON "
                f"(or {self.attr}={{...}} to flowkit.run)",
                parameter=self.name,
            )
        return None

    def parse(self, text: str) -> Any:
        """``text`` parsed with the config's parser (JSON by default)."""
        if self.parser is not None:
            parser = _parser(self, self.parser)
            try:
                value = parser(text)
            except Exception as exc:  # the user's parser: whatever it raises is theirs
                raise ConfigError(
                    f"the parser of config '{self.name}' failed: {type(exc).__name__}: {exc}",
                    "fix the configuration, or its parser",
                    parameter=self.name,
                ) from None
            return self._checked(value, f"parser {getattr(parser, '__name__', parser)!r}")
        if self.plain:
            return text
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            hint = "fix the JSON, or give Config(..., parser=...) for another format"
            if len(text) < 4096 and os.path.isfile(os.path.expanduser(text)):  # a path, as text
                hint = (
                    f"to read the file, give {self.attr}=pathlib.Path({text!r}) "
                    f"(--config {self.name} FILE on the command line)"
                )
            raise ConfigError(
                f"configuration value for '{self.name}' is not valid JSON: {exc}",
                hint,
                parameter=self.name,
            ) from None
        return self._checked(value)

    def _checked(self, value: Any, source: str = "the JSON") -> Any:
        if self.plain:
            return value
        if not isinstance(value, Mapping):
            raise ConfigError(
                f"configuration value for '{self.name}' from {source} is "
                f"{type(value).__name__} {value!r}, not a mapping",
                "give a JSON object, or declare Config(..., plain=True) to take any value",
                parameter=self.name,
            )
        return plain_value(value)

    @staticmethod
    def _default_path(default: str, flow_file: str | None) -> str:
        path = os.path.expanduser(default)
        if os.path.isabs(path) or os.path.exists(path) or not flow_file:
            return path
        beside = os.path.join(os.path.dirname(flow_file), path)
        return beside if os.path.exists(beside) else path


def _read(config: Config, path: str, what: str) -> str:
    try:
        with open(path, encoding="utf-8") as file:
            return file.read()
    except (OSError, UnicodeDecodeError) as exc:
        why = getattr(exc, "strerror", None) or exc
        raise ConfigError(
            f"{what} '{path}' could not be read for '{config.name}' ({why})",
            f"pass --config {config.name} with the path of a readable file",
            parameter=config.name,
        ) from None


def _parser(config: Config, parser: str | Callable[[str], Any]) -> Callable[[str], Any]:
    if callable(parser):
        return parser
    dotted = f"flowkit{parser}" if parser.startswith(".") else parser
    module_name, _, attr = dotted.rpartition(".")
    try:
        found = getattr(importlib.import_module(module_name), attr, None) if module_name else None
    except ImportError as exc:
        found, why = None, f": {exc}"
    else:
        why = ""
    if not callable(found):
        raise ConfigError(
            f"config '{config.name}': cannot locate parser {parser!r}{why}",
            "give parser= a function, or the dotted name of one (package.module.function)",
            parameter=config.name,
        )
    return found  # type: ignore[no-any-return]


def configs_of(flow_cls: type) -> list[Config]:
    """Every config of a flow class, in definition order."""
    return [p for p in parameters_of(flow_cls) if isinstance(p, Config)]


def split_given(flow_cls: type, given: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``given`` (run arguments by attribute or name) as (configs, the rest)."""
    keys = {k for c in configs_of(flow_cls) for k in (c.name, str(c.attr))}
    return (
        {k: v for k, v in given.items() if k in keys},
        {k: v for k, v in given.items() if k not in keys},
    )


def resolve_configs(
    flow_cls: type, given: Mapping[str, Any], kept: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Every config's value for a run (attribute -> value): from ``given`` (by attribute or
    name), else ``kept`` (a resume's origin values, by attribute), else its default."""
    from flowkit.settings import current_user

    module = sys.modules.get(flow_cls.__module__)
    flow_file = getattr(module, "__file__", None)
    values: dict[str, Any] = {}
    for config in configs_of(flow_cls):
        attr = str(config.attr)
        keys = [k for k in (attr, config.name) if k in given]
        if not keys and kept is not None and attr in kept:
            values[attr] = kept[attr]
            continue
        context = ConfigContext(flow_cls.__name__, current_user(), config.name, flow_file)
        values[attr] = config.settle(
            given[keys[0]] if keys else None, is_given=bool(keys), context=context
        )
    return values


def namespace(flow_cls: type, values: Mapping[str, Any]) -> dict[str, Any]:
    """The names config expressions see: each config by attribute and by name, as the steps
    see it (a ConfigValue unless plain)."""
    out: dict[str, Any] = {}
    for config in configs_of(flow_cls):
        value = values.get(str(config.attr))
        view = ConfigValue(value) if isinstance(value, Mapping) and not config.plain else value
        out[str(config.attr)] = out[config.name] = view
    return out


def configured_values(flow_cls: type) -> Mapping[str, Any] | None:
    """The config values a class was configured with (None: not configured)."""
    found = getattr(flow_cls, CONFIGURED_ATTR, None)
    return found if isinstance(found, Mapping) else None
