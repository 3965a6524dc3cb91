"""Tests of the local Astria-compatible sandbox, over real HTTP on 127.0.0.1 (astria-api.md Part A)."""
