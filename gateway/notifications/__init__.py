"""Swarm notifications: what the swarm hears when an agent is created, approved,
denied, retired or expired (a per-tenant Redis stream, and signed webhooks
delivered from an outbox)."""
