"""Data: the IDX format, named datasets, minibatch loaders and synthetic data."""
