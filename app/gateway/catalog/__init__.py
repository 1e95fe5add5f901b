"""The providers/models configuration: loading and checking the YAML (loader), its field
checks (fields), and the built-in defaults (defaults)."""
