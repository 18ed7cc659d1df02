"""Version numbers, in a module of their own so that any layer can read them."""
__version__ = "0.1.0"
# The strax version whose storage format superstrax writes (data metadata's strax_version).
STRAX_FORMAT_VERSION = "2.2.3"
