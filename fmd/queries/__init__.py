"""Every read the dashboard makes: a Connection and parameters in, plain rows out. No Flask, no Altair.

Aggregate pages read only the rollups (``rollup_hour``, ``histogram_hour``, ``histogram_day``,
``unrouted_hour``), never raw request rows, so they answer in the same time at any number of requests.
"""
