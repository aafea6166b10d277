"""The practice arena: a local arena server as strict as the real ones.

It lets a participant rehearse with no event going on, and it is the server
the integration tests play against. It validates client frames on its own
(``rules``), independently of the client's codec, so a codec bug shows up,
and it copies the real server's quirks (protocol.md): the public HTTP reads on
the WebSocket's port (``http_side``), token buffers that live only in memory,
a twin socket closed with no status, avatars that leave with their link.
"""
