"""The genmodel version (one place; pyproject.toml reads it) and the schema version of JSON/CSV outputs."""

__version__ = "0.2.0"
# version of the JSON and CSV output layout; raise it when keys or columns change meaning or disappear
SCHEMA_VERSION = 2
