"""Compositions and elements: the element tables and the composition value type."""
