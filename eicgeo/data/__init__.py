"""Data files shipped with eicgeo (built-in legends)."""
