"""The exceptions flowkit raises, and how a user-facing error is worded.

Every error a user can act on derives from :class:`FlowkitError` and carries a hint. The whole
tree, with the module of each class defined outside this one in brackets (a test keeps it
complete)::

    FlowkitError                    anything flowkit reports to a user
    ├── FlowDefinitionError         the flow class is written wrongly (names step, file, line)
    │   ├── LintError               every problem lint found, at once (``.problems``)
    │   ├── ReadOnlyParameterError  a step assigned to a parameter; an AttributeError [authoring.parameters]
    │   ├── TooManySplits           a foreach fans out past max_num_splits [plan.tasks]
    │   └── UnsupportedShape        a flow shape an Airflow DAG cannot express [export.shape]
    ├── FlowLoadError               a flow file could not be found, imported or chosen
    ├── ParameterError              a parameter value is missing or does not convert
    │   └── ConfigError             a config cannot be read, parsed or evaluated [authoring.config]
    ├── MergeConflictError          ``merge_artifacts`` met different values for one name
    ├── NotInTaskError              ``current`` was read outside a running step
    ├── NotInProjectError           ``current.project_*`` without @project; an AttributeError [authoring.current]
    ├── NotOfferedError             a Metaflow feature flowkit does not offer [authoring.compat]
    ├── ParallelMapError            parallel_map's function failed in a child [authoring.multicore]
    ├── PluginNotInstalled          no installed package provides a plug-in [plugins]
    ├── PluginLoadError             a plug-in is installed but failed to import [plugins]
    │   └── ExecutorStartError      an executor plug-in raised as a run made it [executor.registry]
    ├── WouldOverwriteError         written-out code would replace other files [store.packages]
    ├── StoreError                  the store could not do what was asked [store.errors]
    │   ├── InvalidKeyError         a name or key is malformed or leaves the root [store.errors]
    │   ├── BadPathspecError        not Flow[/run[/step[/task]]] [store.errors]
    │   ├── KeyNotFoundError        a backend holds no such key [store.errors]
    │   ├── NotFoundError           no such flow, run, step, task or artifact [store.errors]
    │   │   └── ObjectNotFound      ``x[key]`` names nothing there; a KeyError too [client.data]
    │   │       └── ArtifactNotFound  no such artifact; an AttributeError too [client.data]
    │   ├── RecordExistsError       a write-once record exists already [store.errors]
    │   ├── CorruptBlobError        a blob's bytes do not hash to its name [store.errors]
    │   ├── NewerBlobFormatError    a blob a newer flowkit wrote, in a format unread here [store.errors]
    │   ├── StoreFullError          the disk or quota under the store is full [store.errors]
    │   ├── ArtifactNotSerializable  neither pickle nor cloudpickle can save it [store.errors]
    │   ├── UnknownStoreError       no installed backend has the URL's scheme [store.errors]
    │   ├── NoRetentionRuleError    gc was given no rule saying which runs to keep [store.gc_plan]
    │   └── UnsharedStoreError      a run's tasks could not see the store (memory://) [store.errors]
    ├── NamespaceMismatch           a run asked for is outside the namespace [client.namespace]
    ├── TaggingError                a run's tags cannot change so [client.tags]
    ├── CardNotFoundError           a task has no card of that id, type or hash [client.cards]
    ├── WorkerStartError            the warm worker could not import the flow [executor.local]
    ├── RunFailed                   a run ended without succeeding [runtime.drive]
    ├── RunnerError                 Runner's command ended before its run existed [surfaces.runner]
    ├── RetryFailed                 a dead letter, retried alone, failed again [runtime.deadletter]
    └── NotebookFailed              a notebook cell raised [notebook.papermill_step]

:class:`Problem` is not an error: it is one thing lint found wrong in a flow, and
:class:`LintError` carries them.
"""

from __future__ import annotations

from collections.abc import Sequence

from flowkit.fastdata import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a flow, located so a user can go straight to it."""

    message: str
    hint: str = ""
    step: str | None = None
    file: str | None = None
    line: int | None = None

    def where(self) -> str:
        """``file:line`` (or as much of it as is known), for the start of a message."""
        if self.file and self.line:
            return f"{self.file}:{self.line}"
        return self.file or "<unknown source>"

    def render(self) -> str:
        """The problem as a user reads it: location, step, message and hint."""
        head = self.where()
        if self.step:
            head += f": step '{self.step}'"
        text = f"{head}: {self.message}"
        if self.hint:
            text += f"\n    hint: {self.hint}"
        return text


class FlowkitError(Exception):
    """Base of every error flowkit reports to a user; ``hint`` says what to do."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def render(self) -> str:
        """The message a user sees: no traceback, the hint on its own line."""
        if self.hint:
            return f"{self.message}\n    hint: {self.hint}"
        return self.message

    def __str__(self) -> str:
        return self.render()

    def _render_traceback_(self) -> list[str]:
        """What IPython shows in a cell for this error instead of a traceback: its name and
        :meth:`render`, once. A flowkit error says what is wrong and what to do; the frames
        of flowkit's that raised it (``run`` -> ``start`` -> ``drive`` for a failed run)
        say nothing more. A bug of flowkit's is no FlowkitError and keeps its traceback."""
        return f"\x1b[1;31m{type(self).__name__}\x1b[0m: {self.render()}".splitlines()


class FlowDefinitionError(FlowkitError):
    """A flow class (or one of its steps) is written in a way flowkit cannot run."""

    def __init__(
        self,
        message: str,
        hint: str = "",
        *,
        step: str | None = None,
        file: str | None = None,
        line: int | None = None,
    ) -> None:
        self.problem = Problem(message, hint, step, file, line)
        super().__init__(message, hint)
        self.step, self.file, self.line = step, file, line

    def render(self) -> str:
        return self.problem.render()


class LintError(FlowDefinitionError):
    """Lint found one or more problems; all of them are in ``problems``."""

    def __init__(self, flow_name: str, problems: Sequence[Problem]) -> None:
        self.flow_name = flow_name
        self.problems = tuple(problems)
        first = self.problems[0]
        super().__init__(
            first.message, first.hint, step=first.step, file=first.file, line=first.line
        )

    def render(self) -> str:
        count = len(self.problems)
        noun = "problem" if count == 1 else "problems"
        body = "\n".join(p.render() for p in self.problems)
        return f"{self.flow_name} has {count} {noun}; nothing was run.\n{body}"


class FlowLoadError(FlowkitError):
    """A flow file could not be found or imported, or holds no (or several) flows."""


class ParameterError(FlowkitError):
    """A parameter is missing, unknown, or its value does not convert to its type."""

    def __init__(self, message: str, hint: str = "", *, parameter: str | None = None) -> None:
        super().__init__(message, hint)
        self.parameter = parameter


class MergeConflictError(FlowkitError):
    """``merge_artifacts`` found artifacts whose values differ between the join's inputs."""

    def __init__(self, step: str, names: Sequence[str]) -> None:
        self.step = step
        self.names = tuple(names)
        listed = ", ".join(repr(n) for n in self.names)
        super().__init__(
            f"step '{step}': merge_artifacts found different values for {listed} "
            "in the join's inputs",
            f"set {listed} yourself in '{step}' before calling merge_artifacts, "
            "or leave them out with exclude=[...]",
        )


class NotInTaskError(FlowkitError):
    """``current`` was read outside a running step, where it has no value."""
