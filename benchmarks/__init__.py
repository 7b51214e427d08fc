"""flowkit against Metaflow, side by side: ``python -m benchmarks`` (see ``__main__``).

Each scenario's flow is written once with the shared authoring API (:mod:`benchmarks.flows`);
:mod:`benchmarks.tools` turns it into a flowkit or a Metaflow flow by swapping the import line
and runs it the way a user would. The older flowkit-only scripts (``runtime_bench.py``,
``resume_bench.py``, ``store_bench.py``) stay here for finer-grained numbers.
"""
