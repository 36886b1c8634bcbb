"""The signed append-only Merkle log (RFC 9162 trees, C2SP checkpoints and signed notes).

Modules, bottom up: ``merkle`` (hashing, proof verification), ``tree`` (incremental tree, proof
generation), ``encoding``, ``note`` (signed notes, keys), ``checkpoint``, ``sth`` (RFC 6962
tree heads), ``keys`` (key files), ``records`` + ``log`` (durable storage, the ``Ledger``),
``export`` and ``verify`` (offline audit).  Imports only the standard library and
``cryptography``.
"""
