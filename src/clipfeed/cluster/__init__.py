"""``clipfeed cluster``: every role of a real deployment on one machine, started and kept
running by supervisord, with nginx balancing the API processes (docs/operate/cluster.md).

- ``plan``: what runs where (ports, engines, programs, each program's settings);
- ``engines``: the engines the cluster uses, found on the machine or started for it;
- ``supervise``: supervisord's configuration and its XML-RPC interface;
- ``balancer``: nginx in front of the API processes and its ``/readyz`` checker;
- ``status``: what ``cluster status`` reports.
"""
