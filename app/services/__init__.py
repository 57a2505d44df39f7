"""Business rules and queries. Functions take the session and keyword arguments, flush
but never commit: the request that calls them owns the transaction."""
