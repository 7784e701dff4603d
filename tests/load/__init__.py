"""Load tests: real gunicorn workers, exact counts under concurrency, a database that goes away."""
