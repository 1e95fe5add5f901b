"""Durable request-log writing: the batching writer, its spool file, and how it rides out a
database outage."""
