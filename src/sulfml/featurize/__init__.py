"""Feature layer: our solid-electrolyte descriptors, structure features and the versioned presets.

Entry points live in `sulfml.featurize.presets` (`featurize`, `get_preset`, `PRESETS`); they are not
re-exported here so that importing the package stays cheap.
"""
