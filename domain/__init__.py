"""The pure model of the surplus registry: aggregates, value objects, rule sets, matching.

No I/O, no clock, no randomness: time and ids are passed in as arguments.
"""
