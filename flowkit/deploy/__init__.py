"""Deployments and the one-machine scheduler (``flowkit deploy`` / ``scheduler``, issue 20).

- :mod:`~flowkit.deploy.register`: deploy a flow file (its code package, parameters,
  ``@schedule`` and triggers) into the store, undeploy it, publish an event;
- :mod:`~flowkit.deploy.due`: what is due for one deployment at a moment: schedule slots,
  upstream runs that succeeded, events;
- :mod:`~flowkit.deploy.loop`: the scheduler: claims what is due, once per store, applies the
  overlap policy and starts the runs (:mod:`~flowkit.deploy.launch`);
- :mod:`~flowkit.deploy.table`: ``flowkit deployments``' rows.

Everything the scheduler knows lives in the store (:mod:`flowkit.store.deployments`), so it
can be stopped, restarted or run twice on one store at any moment. See docs/scheduler.md.
"""
