"""Keeping what was read: the SQLite database, its migrations, the SQL of claims, the pass lock."""
