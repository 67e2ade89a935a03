"""Load benchmarks: the server under gunicorn on PostgreSQL and Redis, beside a bare Flask app."""
