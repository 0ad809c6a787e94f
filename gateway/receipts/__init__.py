"""Signed admission receipts: every allowed creation carries one (README "Receipts").

``keys`` (the Ed25519 signing key and its public forms), ``token`` (the format,
signing and verification), ``issuer`` (issuing at creation, checking against an
agent), ``manifest`` (reading a receipt and tools out of a kagent Agent manifest
or an agent record, for ``spawngate receipt verify``).
"""
