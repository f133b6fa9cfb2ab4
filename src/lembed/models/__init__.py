"""Model catalog, resolution of names to local files, and downloads."""
