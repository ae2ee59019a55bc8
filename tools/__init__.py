"""Sandboxed actions the model can take; ``tools.registry`` lists them."""
