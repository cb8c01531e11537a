"""Command-line entry points: the sr_<component> commands and sr."""
