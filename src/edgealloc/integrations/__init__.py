"""Integrations with other frameworks (DESIGN.md layer 7).

- :mod:`.flower` — edgealloc as the planner of a Flower (``flwr``) federation:
  a Message-API strategy that plans every round from the devices' own
  profiles, a ClientApp that trains exactly what it was told, and the
  simulation and loopback deployment engines behind ``edgealloc flower``.
  Needs the ``flower`` extra (``pip install 'edgealloc[flower]'``).
"""
