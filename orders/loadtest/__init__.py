"""``manage.py loadtest`` (``make loadtest``): the whole stack under a realistic load.

``stack`` starts gunicorn, Celery workers and beat on a throwaway PostgreSQL database and
runs Locust against them; ``locustfile`` is what Locust's users do (it runs in Locust's
process and imports nothing of Chronicle); ``report`` turns what they recorded into the
figures. Locust is not a runtime dependency: ``requirements-load.txt`` brings it.
"""
