"""The engine: what is due becomes runs; runs are claimed, executed and recorded."""
