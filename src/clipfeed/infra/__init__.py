"""Ports (small async interfaces) and their adapters. Each sub-package holds the Protocol in
``__init__.py`` and one module per backend; ``open_*`` picks the backend by URL scheme."""
