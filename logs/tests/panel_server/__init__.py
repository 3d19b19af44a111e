"""A tiny ASGI site for the live panel's browser test: the panel page, its websocket, its lines
endpoint, over one log file named by $PANEL_LOG. Run by daphne in a subprocess; no database."""
