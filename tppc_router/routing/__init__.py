"""Routing: the request pipeline (engine, failover rules, breakers, affinity, streams) and
:class:`TppcRouter`, the ``litellm.Router`` drop-in built on it. litellm is imported lazily."""
