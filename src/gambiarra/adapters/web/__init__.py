"""The live page (``--web``): the view (``view``), what the page shows (``page_state``),
its plain HTTP side (``http``) and the page itself (``page.html``, package data)."""
