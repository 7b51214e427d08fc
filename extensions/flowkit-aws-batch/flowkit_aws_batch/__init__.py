"""flowkit's AWS Batch executor: ``@batch(...)`` steps (or every step, ``--with batch``) run
as AWS Batch jobs, each foreach as one array job, and ``--detach`` runs the scheduler as a
job too. The store must be ``s3://`` (flowkit-s3).

Registered as ``batch`` in the ``flowkit.executors`` entry-point group; the ``@batch``
decorator is flowkit's own (``from flowkit import batch``). See
:mod:`flowkit_aws_batch.options` for what it takes. boto3 loads when a run first makes the
executor, never on import.
"""

from __future__ import annotations

from flowkit_aws_batch.executor import BatchExecutor

__all__ = ["BatchExecutor"]
