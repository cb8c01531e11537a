"""Configuration: the typed option table, the config-file parser, variables and credentials."""
