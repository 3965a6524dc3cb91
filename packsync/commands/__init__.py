"""One module per command family: options in, output streams, an exit code out."""
