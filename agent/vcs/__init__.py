"""Git, hardened: the one place Shipmate runs git."""
