"""``@conda``, ``@pypi``, ``@conda_base``, ``@pypi_base`` (Metaflow's arguments: ``packages``
or conda's older ``libraries``, ``python``, ``disabled``) and ``@environment(vars=...)``.

flowkit creates no environment: steps run in the Python that runs flowkit. Applying one of
these decorators only records its arguments (importing a flow file looks nothing up, in a
worker neither); lint looks the packages up (:func:`missing_packages`), and one that is not
installed is a problem it reports with the command that installs it, so nothing runs. When
all are there, :func:`environment_warning` is the one warning a run prints, naming where the
packages come from and which versions differ.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from types import MappingProxyType
from typing import Any

from flowkit.authoring.compat import Hinted, record_flow_problem
from flowkit.authoring.decorators import DecoratorSpec, _make, decorators_of
from flowkit.authoring.user_decorators import UserStepDecorator
from flowkit.fastdata import dataclass

#: Where a flow class keeps its ``@conda_base`` / ``@pypi_base``.
BASE_ATTR = "_flowkit_environment_base"

_ARGUMENTS = {
    "conda": ("packages", "libraries", "python", "disabled"),
    "pypi": ("packages", "python", "disabled"),
}

#: conda package names whose pip distribution is called otherwise.
_CONDA_NAMES = {
    "pytorch": "torch",
    "pytorch-cpu": "torch",
    "pytorch-gpu": "torch",
    "py-xgboost": "xgboost",
    "matplotlib-base": "matplotlib",
    "tensorflow-cpu": "tensorflow",
}

#: Distributions whose import name differs from their own (for a module found without one).
_IMPORT_NAMES = {
    "scikit-learn": "sklearn",
    "pyyaml": "yaml",
    "pillow": "PIL",
    "beautifulsoup4": "bs4",
    "opencv-python": "cv2",
    "opencv-python-headless": "cv2",
    "python-dateutil": "dateutil",
    "protobuf": "google.protobuf",
}

#: Names conda environments list that are no Python package to check.
_NOT_PACKAGES = frozenset({"python", "pip", "setuptools", "wheel"})


@dataclass(frozen=True)
class Found:
    """One package a decorator names, as this Python has it."""

    name: str
    wanted: str
    #: The installed version; ``""`` when importable but of unknown version, None if missing.
    version: str | None

    @property
    def requirement(self) -> str:
        """What ``pip install`` takes for it."""
        wanted = self.wanted.strip()
        if not wanted:
            return self.name
        return self.name + (wanted if wanted[0] in "<>=!~" else f"=={wanted}")

    @property
    def differs(self) -> bool:
        return bool(self.version) and not _satisfies(str(self.version), self.wanted.strip())


def _satisfies(version: str, wanted: str) -> bool:
    if not wanted:
        return True
    if wanted[0].isdigit():  # conda's "1.2" matches 1.2 and 1.2.x; "1.2.*" likewise
        prefix = wanted.rstrip("*").rstrip(".")
        return version == prefix or version.startswith(prefix + ".")
    try:
        from packaging.specifiers import SpecifierSet
    except ImportError:  # without packaging, only an exact pin can be compared
        return False
    return version in SpecifierSet(wanted.replace(" ", ""))


def find(name: str, wanted: str = "") -> Found:
    """Whether package ``name`` (a pip or conda name, ``channel::name`` too) is installed."""
    # not on import flowkit: only a flow that names packages pays for them
    import importlib.metadata
    import importlib.util

    bare = name.split("::")[-1].strip()
    dist = _CONDA_NAMES.get(bare.lower(), bare)
    try:
        return Found(bare, wanted, importlib.metadata.version(dist))
    except importlib.metadata.PackageNotFoundError:
        pass
    module = _IMPORT_NAMES.get(dist.lower(), dist.replace("-", "_"))
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):  # a parent package that is missing, or a bad name
        spec = None
    return Found(bare, wanted, "" if spec is not None else None)


def _packages(args: Mapping[str, Any]) -> list[Found]:
    return [find(n, str(v or "")) for n, v in args["packages"].items() if n not in _NOT_PACKAGES]


def _validated(name: str, kwargs: Mapping[str, Any]) -> tuple[DecoratorSpec, str | None]:
    kind = name.removesuffix("_base")
    problems = [
        f"@{name} has no argument '{arg}' (it takes {', '.join(_ARGUMENTS[kind])})"
        for arg in kwargs
        if arg not in _ARGUMENTS[kind]
    ]
    packages = {**(kwargs.get("libraries") or {}), **(kwargs.get("packages") or {})}
    if not all(isinstance(k, str) and isinstance(v, str | None) for k, v in packages.items()):
        problems.append(f"@{name}: packages must map names to version strings")
        packages = {}
    python = kwargs.get("python")
    if python is not None and not isinstance(python, str):
        problems.append(f"@{name}(python={python!r}) is invalid: python must be a version string")
    args = {"packages": packages, "python": python, "disabled": bool(kwargs.get("disabled"))}
    spec = DecoratorSpec(name, MappingProxyType(args))
    return spec, "; ".join(problems) or None


def missing_packages(specs: Iterable[DecoratorSpec]) -> list[Hinted]:
    """For each ``@conda``/``@pypi`` (``_base`` too) among ``specs`` that names packages this
    Python lacks, the problem lint reports, with the command that installs them."""
    found = []
    for spec in specs:
        if spec.name.removesuffix("_base") not in _ARGUMENTS or spec.args.get("disabled"):
            continue
        missing = [f for f in _packages(spec.args) if f.version is None]
        if not missing:
            continue
        listed = " ".join(f"'{f.requirement}'" for f in missing)
        found.append(
            Hinted(
                f"@{spec.name} names packages this Python does not have: "
                + ", ".join(f.requirement for f in missing),
                f"flowkit runs every step in the current environment ({sys.executable}); "
                f"install them there with: pip install {listed} (or in conda: conda install "
                f"{listed})",
            )
        )
    return found


def base_specs(flow_cls: type) -> list[DecoratorSpec]:
    """The ``@conda_base`` / ``@pypi_base`` of a flow class and its bases, a base's first."""
    return [s for klass in reversed(flow_cls.__mro__) for s in klass.__dict__.get(BASE_ATTR, ())]


conda = _make("conda", _validated)
conda.__doc__ = """The packages a step needs, as Metaflow's ``@conda(packages={...},
python=...)``: flowkit checks they are installed in the current environment (it builds none)."""
pypi = _make("pypi", _validated)
pypi.__doc__ = """The packages a step needs, as Metaflow's ``@pypi(packages={...})``: flowkit
checks they are installed in the current environment (it builds none)."""


def _base(name: str) -> Any:
    def apply(cls: type, kwargs: Mapping[str, Any]) -> type:
        spec, problem = _validated(name, kwargs)
        setattr(cls, BASE_ATTR, (*cls.__dict__.get(BASE_ATTR, ()), spec))
        if problem:
            record_flow_problem(cls, problem)
        return cls

    def decorator(cls: Any = None, /, **kwargs: Any) -> Any:
        if cls is not None:
            return apply(cls, kwargs)
        return lambda c: apply(c, kwargs)

    decorator.__name__ = decorator.__qualname__ = name
    return decorator


conda_base = _base("conda_base")
conda_base.__doc__ = """``@conda`` for every step of the flow (a class decorator)."""
pypi_base = _base("pypi_base")
pypi_base.__doc__ = """``@pypi`` for every step of the flow (a class decorator)."""


def _specs(flow_cls: type) -> Iterator[DecoratorSpec]:
    from flowkit.authoring.flowspec import step_functions

    yield from base_specs(flow_cls)
    for func in step_functions(flow_cls).values():
        yield from (d for d in decorators_of(func)[0] if d.name in ("conda", "pypi"))


def environment_warning(flow_cls: type) -> str | None:
    """The one warning a run of ``flow_cls`` prints when it uses ``@conda``/``@pypi``: the
    packages come from the current environment, and which versions differ from those asked."""
    specs = [s for s in _specs(flow_cls) if not s.args["disabled"]]
    if not specs:
        return None
    used = ", ".join(sorted({d.name for d in specs}))
    found = {f.name: f for s in specs for f in _packages(s.args)}
    here = ".".join(map(str, sys.version_info[:3]))
    differ = [f"{f.name} {f.version} (asked {f.wanted})" for f in found.values() if f.differs] + [
        f"python {here} (asked {s.args['python']})"
        for s in specs
        if s.args["python"] and not _satisfies(here, str(s.args["python"]))
    ]
    text = (
        f"{used}: flowkit creates no environment; the steps run in this one "
        f"({sys.executable}), which has "
        + (", ".join(f"{f.name} {f.version or ''}".strip() for f in found.values()) or "python")
    )
    if differ:
        text += ". Versions differ from those asked: " + ", ".join(dict.fromkeys(differ))
    return text


class _Environment(UserStepDecorator):
    """``@environment(vars={...})``: the variables are set while the step runs."""

    def init(self, *args: Any, **kwargs: Any) -> None:
        self._vars = {str(k): str(v) for k, v in dict(kwargs.get("vars") or {}).items()}

    def pre_step(self, step_name: str, flow: Any, inputs: Any = None) -> Callable[..., Any] | None:
        self._before = {k: os.environ.get(k) for k in self._vars}
        os.environ.update(self._vars)
        return None

    def post_step(self, step_name: str, flow: Any, exception: Exception | None = None) -> Any:
        for key, value in self._before.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        return exception


def environment(func: Any = None, /, *, vars: Mapping[str, Any] | None = None) -> Any:
    """Set environment variables while the step runs, as Metaflow's
    ``@environment(vars={"NAME": "value"})``."""
    made = _Environment(vars=dict(vars or {}))
    return made(func) if func is not None else made
