"""One view per operation, grouped by the entity they act on."""
