"""The domain: experiment configs, data, training runs, storage and sharing."""
