"""strax.storage.mongo is not provided by superstrax.

strax's MongoFrontend / MongoBackend store data chunks in a MongoDB server. superstrax has no
tested implementation of them (that needs pymongo and a running server), so importing this
module says so instead of offering something that was never exercised.
"""
raise ImportError(
    "superstrax does not provide strax.storage.mongo (MongoFrontend, MongoBackend, "
    "MongoSaver): storing data in MongoDB is not implemented. Keep such data in a "
    "DataDirectory, or subclass superstrax.StorageFrontend/StorageBackend for your server "
    "(see docs/internals.md, 'How to add a frontend').")
