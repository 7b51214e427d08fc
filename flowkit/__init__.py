"""flowkit: step flows for data science.

The public API is exactly ``__all__``; everything else is internal. Importing flowkit reads
no configuration, loads no plugin and touches no file.
"""

import typing

from flowkit import lazy
from flowkit.version import VERSION as __version__

if typing.TYPE_CHECKING:  # the same names as below, for type checkers and IDEs
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
        secrets,
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
    from flowkit.authoring.scheduling import schedule, trigger, trigger_on_finish
    from flowkit.authoring.sla import sla
    from flowkit.authoring.user_decorators import (
        USER_SKIP_STEP,
        UserStepDecorator,
        user_step_decorator,
    )
    from flowkit.cli.script import FlowSpec
    from flowkit.client.data import DataArtifact
    from flowkit.client.namespace import default_namespace, get_namespace, namespace
    from flowkit.client.objects import Flow, Run, Step, Task
    from flowkit.client.provider import default_metadata, get_metadata, metadata
    from flowkit.client.root import Metaflow
    from flowkit.deploy.register import publish_event
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

# Each name is imported on first use (flowkit/lazy.py): importing this package imports
# none of its modules.
__getattr__, __dir__ = lazy.lazy_exports(
    __name__,
    {
        "flowkit.authoring.compat": (
            "DeployedFlow",
            "Deployer",
            "JSONTypeClass",
            "NBDeployer",
            "NotOfferedError",
            "airflow_external_task_sensor",
            "airflow_s3_key_sensor",
            "exit_hook",
            "inspect_spin",
            "kubernetes",
            "parallel",
            "pytorch_parallel",
            "secrets",
        ),
        "flowkit.authoring.config": (
            "Config",
            "ConfigValue",
        ),
        "flowkit.authoring.current": ("current",),
        "flowkit.authoring.decorators": (
            "alert",
            "batch",
            "card",
            "catch",
            "no_cache",
            "resources",
            "retry",
            "slurm",
            "step",
            "timeout",
        ),
        "flowkit.authoring.delayed": ("config_expr",),
        "flowkit.authoring.environment": (
            "conda",
            "conda_base",
            "environment",
            "pypi",
            "pypi_base",
        ),
        "flowkit.authoring.join": ("Inputs",),
        "flowkit.authoring.multicore": (
            "parallel_imap_unordered",
            "parallel_map",
            "profile",
        ),
        "flowkit.authoring.mutators": (
            "FlowMutator",
            "StepMutator",
        ),
        "flowkit.authoring.parameters": (
            "IncludeFile",
            "JSONType",
            "Parameter",
        ),
        "flowkit.authoring.project": ("project",),
        "flowkit.authoring.s3": ("S3",),
        "flowkit.authoring.scheduling": ("schedule", "trigger", "trigger_on_finish"),
        "flowkit.authoring.sla": ("sla",),
        "flowkit.authoring.user_decorators": (
            "USER_SKIP_STEP",
            "UserStepDecorator",
            "user_step_decorator",
        ),
        "flowkit.cli.script": ("FlowSpec",),
        "flowkit.client.data": ("DataArtifact",),
        "flowkit.client.namespace": ("default_namespace", "get_namespace", "namespace"),
        "flowkit.client.objects": ("Flow", "Run", "Step", "Task"),
        "flowkit.client.provider": ("default_metadata", "get_metadata", "metadata"),
        "flowkit.client.root": ("Metaflow",),
        "flowkit.deploy.register": ("publish_event",),
        "flowkit.errors": (
            "FlowDefinitionError",
            "FlowkitError",
            "FlowLoadError",
            "LintError",
            "MergeConflictError",
            "NotInTaskError",
            "ParameterError",
        ),
        "flowkit.lint.api": ("graph_of",),
        "flowkit.notebook.debug": ("debug_task",),
        "flowkit.notebook.papermill_step": ("run_notebook",),
        "flowkit.runtime.api": ("RunFailed",),
        "flowkit.surfaces.api": (
            "resume",
            "run",
        ),
        "flowkit.surfaces.checked": ("check",),
        "flowkit.surfaces.nbrunner": ("NBRunner",),
        "flowkit.surfaces.runner": ("Runner",),
        "flowkit.task.caught": (
            "CaughtException",
            "CaughtFailure",
        ),
    },
)

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
    "publish_event",
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
    "sla",
    "slurm",
    "step",
    "timeout",
    "trigger",
    "trigger_on_finish",
    "user_step_decorator",
]
