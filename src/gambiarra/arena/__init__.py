"""The practice arena: a local arena server as strict as the real ones.

It lets a participant rehearse with no event going on, and it is the server
the integration tests play against. It validates client frames on its own
(``rules``), independently of the client's codec, so a codec bug shows up.
"""
