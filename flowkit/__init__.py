"""flowkit: step flows for data science.

The public API is exactly ``__all__``; everything else is internal. Importing flowkit reads
no configuration, loads no plugin and touches no file.
"""

from flowkit.authoring.current import current
from flowkit.authoring.decorators import (
    alert,
    batch,
    card,
    catch,
    no_cache,
    resources,
    retry,
    slurm,
    step,
    timeout,
)
from flowkit.authoring.join import Inputs
from flowkit.authoring.parameters import IncludeFile, JSONType, Parameter
from flowkit.authoring.user_decorators import (
    USER_SKIP_STEP,
    UserStepDecorator,
    user_step_decorator,
)
from flowkit.cli.script import FlowSpec
from flowkit.client import Flow, Run, Step, Task
from flowkit.errors import (
    FlowDefinitionError,
    FlowkitError,
    FlowLoadError,
    LintError,
    MergeConflictError,
    NotInTaskError,
    ParameterError,
)
from flowkit.lint.api import check, graph_of
from flowkit.notebook.debug import debug_task
from flowkit.notebook.papermill_step import run_notebook
from flowkit.runtime.api import RunFailed
from flowkit.surfaces.api import resume, run
from flowkit.task.caught import CaughtException, CaughtFailure

__version__ = "0.1.0"

__all__ = [
    "CaughtException",
    "CaughtFailure",
    "Flow",
    "FlowDefinitionError",
    "FlowLoadError",
    "FlowSpec",
    "FlowkitError",
    "IncludeFile",
    "Inputs",
    "JSONType",
    "LintError",
    "MergeConflictError",
    "NotInTaskError",
    "Parameter",
    "ParameterError",
    "Run",
    "RunFailed",
    "Step",
    "Task",
    "USER_SKIP_STEP",
    "UserStepDecorator",
    "__version__",
    "alert",
    "batch",
    "card",
    "catch",
    "check",
    "current",
    "debug_task",
    "graph_of",
    "no_cache",
    "resources",
    "resume",
    "retry",
    "run",
    "run_notebook",
    "slurm",
    "step",
    "timeout",
    "user_step_decorator",
]
