"""Notebook <-> project: reading notebooks, the metadata.yaml model, writing Mage-layout projects."""
