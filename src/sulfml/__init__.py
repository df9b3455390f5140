"""sulfml: room-temperature Li-ion conductivity and activation energy of solid electrolytes."""

__version__ = "0.1.0"
