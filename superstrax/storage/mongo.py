"""strax.storage.mongo is not provided by superstrax.

strax's MongoFrontend / MongoBackend store data chunks in a MongoDB server. superstrax has no
tested implementation of them (that needs pymongo and a running server), so importing this
module says so instead of offering something that was never exercised. (The name
`superstrax.MongoFrontend` exists so that code subclassing it imports; making one raises.)
"""
from .strax_style import MONGO_MESSAGE, MongoStorageNotProvided

raise MongoStorageNotProvided(MONGO_MESSAGE)
