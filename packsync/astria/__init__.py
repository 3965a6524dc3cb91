"""The Astria API on the wire: the client, targets, connecting (the embedded sandbox included)
and the live state read from an account. (The API's facts, which every stage uses, are
``packsync.facts`` and ``packsync.slug``.)"""
