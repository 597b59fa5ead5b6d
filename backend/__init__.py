"""Neural Playground: a NumPy/CuPy training engine, a FastAPI server and a browser page."""

__version__ = "0.1.0"
