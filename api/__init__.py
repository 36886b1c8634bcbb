"""The HTTP API (FastAPI). Unfinished. Built so far: the public ledger endpoints, the auditors'
and administrators' ``/ledger/entries``, bearer tokens (hashed, expiring, revocable; issued by
``registry token create``) with role checks, and problem+json errors. Not built yet (issue 5):
the administrator endpoint for tokens, object-level authorisation, every enterprise,
administrator, agency and auditor area, trade receipts, idempotency keys, the body-size cap,
pagination, market data and its stream, and the schemathesis run."""
