"""The HTTP API (FastAPI). Unfinished: only the public ledger endpoints and the error mapping
exist so far. Not built yet (issue 5): authentication and tokens, every enterprise,
administrator, agency and auditor area, idempotency keys, market data and its stream,
``registry serve``, and the schemathesis run."""
