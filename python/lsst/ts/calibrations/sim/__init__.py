"""The simulated observatory: sensor and image model, and simulated CSCs.

Modules are imported by their full names, so importing this package is cheap.
"""
