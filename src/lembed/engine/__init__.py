"""The engine: loaded models and (for the server) the dynamic batcher."""
