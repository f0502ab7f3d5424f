"""Command-line entry points: ``wn-detect``, ``wn select`` and the ``wn`` dispatcher.

Each command is ``main(argv=None, prog=None) -> int``; heavy imports happen inside it.
"""
