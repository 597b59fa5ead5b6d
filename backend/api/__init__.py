"""FastAPI: the app factory, one router per resource, the websocket and the pages."""
