"""The authoring layer: what a user writes (FlowSpec, @step, parameters, decorators)."""
