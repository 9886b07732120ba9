"""Calls in the IVR: the AGI driver, the records it keeps and the writes it must not lose."""
