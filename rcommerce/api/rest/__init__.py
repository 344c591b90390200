"""The REST bridge: HTTP/JSON routes derived from the ``google.api.http`` annotations."""
