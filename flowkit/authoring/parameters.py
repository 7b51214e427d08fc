"""Flow parameters: typed, validated values given when a run starts, read-only in steps."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Collection, Mapping
from typing import Any

from flowkit.authoring.delayed import is_delayed
from flowkit.errors import FlowDefinitionError, ParameterError

PARAMETERS_ATTR = "_flowkit_parameters"
#: A parameter's default can come from ``FLOWKIT_RUN_<NAME>`` or, as in Metaflow,
#: ``METAFLOW_RUN_<NAME>`` (flowkit's wins when both are set).
ENV_PREFIXES = ("FLOWKIT_RUN_", "METAFLOW_RUN_")
_TRUE = {"true", "1", "yes", "y", "on"}
_FALSE = {"false", "0", "no", "n", "off"}


class _JSONType:
    """Marker for ``Parameter(type=JSONType)``: the value is any JSON document."""

    name = "JSON"

    def __repr__(self) -> str:
        return "JSONType"


JSONType = _JSONType()

_KINDS: dict[Any, str] = {str: "str", int: "int", float: "float", bool: "bool", JSONType: "json"}


class ReadOnlyParameterError(FlowDefinitionError, AttributeError):
    """A step assigned to a parameter; an ``AttributeError``, as Metaflow raises."""


class Parameter:
    """A value given to a run (``--name VALUE`` or ``flowkit.run(Flow, name=VALUE)``).

    Inside a step the parameter reads like an artifact (``self.alpha``) and cannot be set.
    The type comes from ``type=`` or, failing that, from the default; it is ``str`` otherwise.
    Not given, the value comes from ``FLOWKIT_RUN_<NAME>`` or ``METAFLOW_RUN_<NAME>`` in the
    environment of the process that starts the run, else from the default.
    With ``separator=","`` a string value (the default too) is split into a list of the
    type's values.
    """

    def __init__(
        self,
        name: str,
        default: Any = None,
        type: Any = None,
        help: str | None = None,
        required: bool = False,
        show_default: bool = True,
        separator: str | None = None,
    ) -> None:
        self.name = name
        self.default = default
        self.help = help or ""
        self.required = bool(required)
        self.show_default = show_default
        self.separator = separator or None
        self.attr: str | None = None
        self.kind = "str" if self.separator and type is None else _infer_kind(type, default)
        #: Whether ``type=`` was given (else a config expression's value decides the kind).
        self.type_given = type is not None
        self.problems: list[str] = []
        if type is not None and type not in _KINDS:
            self.problems.append(
                f"Parameter '{name}' has type={type!r}; use str, int, float, bool or JSONType"
            )
        if self.separator and self.kind == "json":
            self.problems.append(
                f"Parameter '{name}' has a separator, which a JSON parameter cannot use"
            )
        if callable(default) and not isinstance(default, str | bytes):
            self.problems.append(
                f"Parameter '{name}' has a callable default; flowkit needs a plain value"
            )
        elif is_delayed(default):
            pass  # a config expression: converted once the run's configs are known
        elif default is not None and not self.problems:
            try:
                self.default = self.convert(default)
            except ParameterError as exc:
                self.problems.append(f"the default of Parameter '{name}' is invalid: {exc.message}")

    # -- descriptor: parameters are read-only artifacts inside steps --------------------------
    def __set_name__(self, owner: type, attr: str) -> None:
        self.attr = attr

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            return self
        values = obj.__dict__.get(PARAMETERS_ATTR, {})
        if self.attr not in values:
            raise ParameterError(
                f"parameter '{self.name}' has no value here",
                "parameters get their values when a run starts; read them inside a step",
                parameter=self.name,
            )
        return values[self.attr]

    def __set__(self, obj: Any, value: Any) -> None:
        caller = sys._getframe(1)  # the assignment, in the step
        raise ReadOnlyParameterError(
            f"parameter '{self.name}' is read-only inside a step",
            f"store a new value under another name, e.g. self.{self.attr}_used = ...",
            step=obj.__dict__.get("_flowkit_step_name"),
            file=caller.f_code.co_filename,
            line=caller.f_lineno,
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, kind={self.kind}, default={self.default!r})"

    # -- values --------------------------------------------------------------------------------
    @property
    def type_label(self) -> str:
        """The type as a user reads it in ``--help`` and in errors."""
        return {"json": "JSON", "file": "FILE"}.get(self.kind, self.kind.upper())

    def convert(self, raw: Any) -> Any:
        """``raw`` (a command-line string or a Python value) as this parameter's type; with a
        separator, a string is split into a list of such values (an empty string stays one,
        as in Metaflow) and a list's items are converted."""
        if self.separator and isinstance(raw, str) and raw:
            return [self._convert_one(piece) for piece in raw.split(self.separator)]
        if self.separator and isinstance(raw, list | tuple):
            return [self._convert_one(item) for item in raw]
        return self._convert_one(raw)

    def _convert_one(self, raw: Any) -> Any:
        try:
            return _CONVERTERS[self.kind](raw)
        except (ValueError, TypeError) as exc:
            raise ParameterError(
                f"parameter '{self.name}' expects {_DESCRIBE[self.kind]}, got {raw!r}"
                + (f" ({exc})" if self.kind == "json" else ""),
                f"pass --{self.name} with {_DESCRIBE[self.kind]}",
                parameter=self.name,
            ) from None

    def env_names(self) -> tuple[str, ...]:
        """The environment variables a default may come from, the one that wins first."""
        suffix = self.name.replace("-", "_").upper()
        return tuple(prefix + suffix for prefix in ENV_PREFIXES)

    def from_env(self, environ: Mapping[str, str]) -> tuple[str, str] | None:
        """``(variable, value)`` of the first of :meth:`env_names` set in ``environ``."""
        for var in self.env_names():
            if environ.get(var):
                return var, environ[var]
        return None

    def resolve(
        self, given: Any, *, is_given: bool, environ: Mapping[str, str] | None = None
    ) -> Any:
        """The run's value: the given one converted, else one from ``environ`` (see
        :meth:`env_names`), else the default; errors if required."""
        if is_given and given is not None:
            return self.convert(given)
        found = self.from_env(environ) if environ is not None else None
        if found is not None:
            var, raw = found
            try:
                return self.convert(raw)
            except ParameterError as exc:
                raise ParameterError(
                    f"{exc.message} (from ${var})",
                    f"set {var} to {_DESCRIBE[self.kind]}, or unset it",
                    parameter=self.name,
                ) from None
        if self.required:
            raise ParameterError(
                f"parameter '{self.name}' is required",
                f"pass --{self.name} VALUE (or {self.attr}=... to flowkit.run)",
                parameter=self.name,
            )
        return self.default


class IncludeFile(Parameter):
    """A parameter whose value is the content of a file, stored with the run.

    The run reads the file once when it starts, so it never depends on the file afterwards.
    """

    def __init__(
        self,
        name: str,
        default: str | None = None,
        is_text: bool = True,
        encoding: str = "utf-8",
        help: str | None = None,
        required: bool = False,
    ) -> None:
        self.is_text = is_text
        self.encoding = encoding
        super().__init__(name, default=None, help=help, required=required)
        self.kind = "file"
        self.default = default

    @property
    def type_label(self) -> str:
        return "FILE"

    def convert(self, raw: Any) -> Any:
        """Read the file ``raw`` names; content already read (bytes) passes through."""
        if isinstance(raw, bytes):
            return raw.decode(self.encoding) if self.is_text else raw
        path = os.path.expanduser(str(raw))
        try:
            with open(path, "rb") as file:
                data = file.read()
        except OSError as exc:
            raise ParameterError(
                f"parameter '{self.name}' names file {path!r}, which cannot be read "
                f"({exc.strerror or exc})",
                f"pass --{self.name} with the path of a readable file",
                parameter=self.name,
            ) from None
        if not self.is_text:
            return data
        try:
            return data.decode(self.encoding)
        except UnicodeDecodeError:
            raise ParameterError(
                f"parameter '{self.name}': file {path!r} is not valid {self.encoding} text",
                f"declare IncludeFile('{self.name}', is_text=False) to receive bytes",
                parameter=self.name,
            ) from None

    def resolve(
        self, given: Any, *, is_given: bool, environ: Mapping[str, str] | None = None
    ) -> Any:
        if is_given and given is not None:
            return self.convert(given)
        if (environ is None or self.from_env(environ) is None) and self.default is not None:
            return self.convert(self.default)
        return super().resolve(None, is_given=False, environ=environ)


def _infer_kind(type_: Any, default: Any) -> str:
    if type_ in _KINDS:
        return _KINDS[type_]
    if isinstance(default, bool):
        return "bool"
    if isinstance(default, int):
        return "int"
    if isinstance(default, float):
        return "float"
    if isinstance(default, dict | list):
        return "json"
    return "str"


def _to_bool(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.strip().lower() in _TRUE | _FALSE:
        return raw.strip().lower() in _TRUE
    raise ValueError(raw)


def _to_int(raw: Any) -> int:
    if isinstance(raw, bool) or (isinstance(raw, float) and not raw.is_integer()):
        raise ValueError(raw)
    if isinstance(raw, int | float):
        return int(raw)
    return int(str(raw).strip())


def _to_float(raw: Any) -> float:
    if isinstance(raw, bool):
        raise ValueError(raw)
    return float(raw)


def _to_str(raw: Any) -> str:
    if not isinstance(raw, str | int | float):
        raise TypeError(raw)
    return str(raw)


def _to_json(raw: Any) -> Any:
    if isinstance(raw, str):
        return json.loads(raw)
    json.dumps(raw)  # raises TypeError for values JSON cannot hold
    return raw


_CONVERTERS = {
    "str": _to_str,
    "int": _to_int,
    "float": _to_float,
    "bool": _to_bool,
    "json": _to_json,
}
_DESCRIBE = {
    "str": "a string",
    "int": "a whole number",
    "float": "a number",
    "bool": "true or false",
    "json": "a JSON value",
    "file": "a file path",
}


def parameters_of(flow_cls: type) -> list[Parameter]:
    """Every parameter of a flow class (inherited ones too), in definition order."""
    seen: dict[str, Parameter] = {}
    for klass in reversed(flow_cls.__mro__):
        for attr, value in vars(klass).items():
            if isinstance(value, Parameter):
                seen[attr] = value
            elif attr in seen:
                del seen[attr]
    return list(seen.values())


def resolve_parameters(
    flow_cls: type,
    given: dict[str, Any],
    *,
    kept: Collection[str] = (),
    environ: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Every parameter's value for a run (attribute name -> value), from what was given
    (keyed by attribute or parameter name), else ``environ`` (the starting process's
    environment), else the default; unknown and missing ones raise ParameterError.

    ``kept`` names attributes whose value the run already has (a resume keeps its origin's):
    unless given, they are left out, so no file is read and no requirement is checked again.
    """
    params = parameters_of(flow_cls)
    by_key = {p.name: p for p in params} | {str(p.attr): p for p in params}
    unknown = sorted(k for k in given if k not in by_key)
    if unknown:
        import difflib

        close = difflib.get_close_matches(unknown[0], list(by_key), n=1)
        known = ", ".join(sorted(p.name for p in params)) or "none"
        hint = f"did you mean '{close[0]}'?" if close else f"its parameters are: {known}"
        if unknown[0] in ("branch", "production"):  # --branch before the command, in Python
            hint = f"for @project's --{unknown[0]}, give project_{unknown[0]}=; {hint}"
        raise ParameterError(
            f"{flow_cls.__name__} has no parameter '{unknown[0]}'", hint, parameter=unknown[0]
        )
    values: dict[str, Any] = {}
    for p in params:
        keys = [k for k in (str(p.attr), p.name) if k in given]
        if not keys and p.attr in kept:
            continue
        values[str(p.attr)] = p.resolve(
            given[keys[0]] if keys else None, is_given=bool(keys), environ=environ
        )
    return values
