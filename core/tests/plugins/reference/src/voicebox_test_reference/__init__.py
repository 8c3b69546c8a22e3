"""A numpy formant synthesiser that passes the conformance kit: the example engine."""
