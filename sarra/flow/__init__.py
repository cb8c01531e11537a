"""The loop over notices and its stages (filled in by the component issues)."""
