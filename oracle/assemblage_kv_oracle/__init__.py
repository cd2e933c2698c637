"""The oracle: the pure spec given the store's API, so one driver can call both.

`ModelStore` wraps `assemblage_kv_spec` in the shape of `assemblage_kv.KvStore`; the tests
drive the model and the real store with identical calls and compare every answer, every
error (by name) and the bytes of the log.
"""

from assemblage_kv_oracle.model import ModelError, ModelStore, ModelTransaction

__all__ = ["ModelError", "ModelStore", "ModelTransaction"]
