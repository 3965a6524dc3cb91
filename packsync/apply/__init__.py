"""Carrying out a plan on the account, verifying it, and one apply at a time per account."""
