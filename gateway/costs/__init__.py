"""Cost tracking: estimated cost of each tenant's active agents, reported usage, swarm figures.

``ledger`` keeps the figures in Redis, ``service`` is what the fronts call
(usage reports, ``GET /v1/metrics/swarm``, ``spawngate swarm report``), and
``swarm`` builds the daily table.
"""
