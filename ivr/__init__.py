"""IVR and skill-based routing for the 12345 citizen-service hotline."""

__version__ = "0.1.0"
