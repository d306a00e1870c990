"""Runtime services on the ports: the outbox relay, event consumers, live push, rate limits,
and the bag of wired ports (``Services``) that processors and routes receive.

Below the features and above the ports: it imports ``core`` and ``infra``, never a feature."""
