"""The graph layer: a flow class becomes a frozen FlowGraph without running any step."""
