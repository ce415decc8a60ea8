"""The request path: from a request's records, checked against the version's contract,
through the compiled model, to the logged answers."""
