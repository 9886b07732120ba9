"""The flow library: the live IVR flow, its files, versions and publication."""
