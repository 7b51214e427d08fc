"""The runtime layer: the scheduler loop that turns a graph into tasks and runs them."""
