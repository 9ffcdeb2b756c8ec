"""The command line. Commands parse, call one service, and hand the result to `render`.

Command modules import services, models and the database lazily, inside the command bodies:
`sorted --help` and shell completion must not pay for SQLAlchemy, pydantic or psycopg.
"""
