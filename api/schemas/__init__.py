"""Pydantic schemas of the API, one module per area; one model per direction."""
