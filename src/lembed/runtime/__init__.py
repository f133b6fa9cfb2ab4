"""Tokenizer, backends, pooling and output quantisation."""
