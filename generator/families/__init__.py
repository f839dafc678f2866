"""Question families, one folder each; `generator.family.registry()` discovers them."""
