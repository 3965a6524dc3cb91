"""packsync: Astria packs as code — validate, plan and apply pack files."""

__version__ = "0.2.0"
