"""The command server: a warm sorted that runs commands for a small client.

A sorted command spends almost all of its time importing SQLAlchemy, SQLModel, pydantic and
Rich; the work itself takes a few milliseconds. The server is a process of this user's that
has imported all of that once, with a few forked workers (`daemon`), each running one command
at a time. The `sorted` program first tries it (`client`): it hands a worker its standard
streams, its working directory, its environment, its umask and its arguments, forwards the
signals it gets, and exits with the command's exit code. Whenever the server is not there or
cannot take the command at once, `sorted` runs the command in its own process instead, as it
always did, and starts a server for the next one.

- `where`: where the socket lives (a folder only this user can enter), and what identifies the
  code a server runs, so that no command ever runs on code older than what is installed.
- `wire`: the messages a client and a worker exchange.
- `client`: the side in the `sorted` process; it imports nothing outside the standard library.
- `daemon`: the server process and its workers; `worker`: one command in a worker.
"""
