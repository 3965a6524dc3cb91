"""Desired state: a pack expanded into the templates the account should hold, and what makes two templates the same."""
