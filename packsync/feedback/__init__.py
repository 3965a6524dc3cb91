"""The feedback loop: likes per template (stats) and prompts tried on test tunes (preview)."""
