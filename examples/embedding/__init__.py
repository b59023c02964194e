"""Embedding rota in an app: a plain script, FastAPI, Flask and Django (docs/embedding.md)."""
