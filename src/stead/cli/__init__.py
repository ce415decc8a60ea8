"""The ``stead`` command: a thin shell over the Python API."""
