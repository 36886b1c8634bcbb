"""The HTTP API (FastAPI) over the registry, the exchange and the ledger.

``api.app.create_app(env)`` composes it: one router per area in ``api/routes``, shared
dependencies (the caller, object-level authorisation, pagination, the clock) in ``api/deps``,
bearer tokens stored as hashes (``api/tokens``), problem+json errors through one table
(``api/errors``), and ASGI middleware for Idempotency-Key, the body-size cap and rate limits.
Handlers are plain ``def``: the event store is synchronous and runs in the thread pool."""
