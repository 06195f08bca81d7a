"""The ``modeldepot`` command line: ``modeldepot <noun> <verb>``, built on the SDK."""
