"""flowkit: step flows for data science.

The public API is exactly ``__all__``; everything else is internal. Importing flowkit reads
no configuration, loads no plugin and touches no file.
"""

from flowkit.authoring.compat import (
    DeployedFlow,
    Deployer,
    JSONTypeClass,
    NBDeployer,
    NotOfferedError,
    airflow_external_task_sensor,
    airflow_s3_key_sensor,
    exit_hook,
    inspect_spin,
    kubernetes,
    parallel,
    pytorch_parallel,
    schedule,
    secrets,
    trigger,
    trigger_on_finish,
)
from flowkit.authoring.config import Config, ConfigValue
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
from flowkit.authoring.delayed import config_expr
from flowkit.authoring.environment import conda, conda_base, environment, pypi, pypi_base
from flowkit.authoring.join import Inputs
from flowkit.authoring.multicore import parallel_imap_unordered, parallel_map, profile
from flowkit.authoring.mutators import FlowMutator, StepMutator
from flowkit.authoring.parameters import IncludeFile, JSONType, Parameter
from flowkit.authoring.project import project
from flowkit.authoring.s3 import S3
from flowkit.authoring.user_decorators import (
    USER_SKIP_STEP,
    UserStepDecorator,
    user_step_decorator,
)
from flowkit.cli.script import FlowSpec
from flowkit.client import (
    Flow,
    Metaflow,
    Run,
    Step,
    Task,
    default_metadata,
    default_namespace,
    get_metadata,
    get_namespace,
    metadata,
    namespace,
)
from flowkit.client.data import DataArtifact
from flowkit.errors import (
    FlowDefinitionError,
    FlowkitError,
    FlowLoadError,
    LintError,
    MergeConflictError,
    NotInTaskError,
    ParameterError,
)
from flowkit.lint.api import graph_of
from flowkit.notebook.debug import debug_task
from flowkit.notebook.papermill_step import run_notebook
from flowkit.runtime.api import RunFailed
from flowkit.surfaces.api import resume, run
from flowkit.surfaces.checked import check
from flowkit.surfaces.nbrunner import NBRunner
from flowkit.surfaces.runner import Runner
from flowkit.task.caught import CaughtException, CaughtFailure

__version__ = "0.1.0"

__all__ = [  # noqa: RUF022  (plainly sorted: USER_SKIP_STEP among the classes)
    "CaughtException",
    "CaughtFailure",
    "Config",
    "ConfigValue",
    "DataArtifact",
    "DeployedFlow",
    "Deployer",
    "Flow",
    "FlowDefinitionError",
    "FlowLoadError",
    "FlowMutator",
    "FlowSpec",
    "FlowkitError",
    "IncludeFile",
    "Inputs",
    "JSONType",
    "JSONTypeClass",
    "LintError",
    "MergeConflictError",
    "Metaflow",
    "NBDeployer",
    "NBRunner",
    "NotInTaskError",
    "NotOfferedError",
    "Parameter",
    "ParameterError",
    "Run",
    "RunFailed",
    "Runner",
    "S3",
    "Step",
    "StepMutator",
    "Task",
    "USER_SKIP_STEP",
    "UserStepDecorator",
    "__version__",
    "airflow_external_task_sensor",
    "airflow_s3_key_sensor",
    "alert",
    "batch",
    "card",
    "catch",
    "check",
    "conda",
    "conda_base",
    "config_expr",
    "current",
    "debug_task",
    "default_metadata",
    "default_namespace",
    "environment",
    "exit_hook",
    "get_metadata",
    "get_namespace",
    "graph_of",
    "inspect_spin",
    "kubernetes",
    "metadata",
    "namespace",
    "no_cache",
    "parallel",
    "parallel_imap_unordered",
    "parallel_map",
    "profile",
    "project",
    "pypi",
    "pypi_base",
    "pytorch_parallel",
    "resources",
    "resume",
    "retry",
    "run",
    "run_notebook",
    "schedule",
    "secrets",
    "slurm",
    "step",
    "timeout",
    "trigger",
    "trigger_on_finish",
    "user_step_decorator",
]
