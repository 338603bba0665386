"""The hub's decision core (issue 4): pure functions of (message, state, table, rollout, keys,
time). No Kafka, no clock, no randomness of its own, no global mutable state, no logging."""
