"""Source configs: typed models and the loader."""
