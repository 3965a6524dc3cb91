"""packsync: Astria packs as code — validate, plan and apply pack files."""

__version__ = "0.1.0"
