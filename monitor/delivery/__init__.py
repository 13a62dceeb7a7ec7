"""Getting claims to people: the digest and its email, exports, and the Datasette browser."""
