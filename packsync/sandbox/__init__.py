"""The local Astria-compatible sandbox server."""
