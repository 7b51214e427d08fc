"""flowkit's Slurm executor: ``@slurm(...)`` steps (or every step, ``--with slurm``) run as
Slurm jobs, each foreach as one job array, and ``--detach`` runs the scheduler as a job too.

Registered as ``slurm`` in the ``flowkit.executors`` entry-point group; the ``@slurm``
decorator is flowkit's own (``from flowkit import slurm``). See :mod:`flowkit_slurm.options`
for what it takes.
"""

from __future__ import annotations

from flowkit_slurm.executor import SlurmExecutor

__all__ = ["SlurmExecutor"]
