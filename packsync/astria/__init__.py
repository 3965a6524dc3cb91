"""The Astria API: its facts, the client, targets, connecting (the embedded sandbox included)
and the live state read from an account."""
