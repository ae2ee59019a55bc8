"""One small widget per module, each with its styles in a ``.tcss`` file beside it."""
