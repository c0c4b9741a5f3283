"""The parts of scripts/load_test.py, by responsibility (run it as `python scripts/load_test.py`).

figures: page timings and their table; session: one visitor's WebSocket conversation with
the server; visitors: the explorer and playground rounds; classroom: a class that trains
(--train); class_report: a class's figures; server: the app server and the training runs.
"""
