"""Alembic's environment for the hub: migrations run on the connection hub.db.migrate hands over
(``config.attributes["connection"]``); there is no alembic.ini and no offline (SQL script) mode."""

from alembic import context

from hub.db.baseline import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run the hub's migrations through hub.db.migrate (ohs-hub db upgrade), not the alembic CLI")
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
