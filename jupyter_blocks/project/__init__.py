"""Notebook <-> project: reading notebooks, the metadata.yaml model, Mage-layout projects."""
