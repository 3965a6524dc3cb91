"""Pack files: load them with positions, check them against the schema and the rules, write
them canonically. No network: this is all that ``validate`` imports."""
