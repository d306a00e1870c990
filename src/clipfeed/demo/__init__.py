"""``clipfeed demo``: sample accounts and clips on embedded defaults (``run``), and the
sample content it seeds (``content``)."""
