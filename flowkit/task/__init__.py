"""The task layer: one TaskSpec in, user code run once, artifacts and a final record out."""
