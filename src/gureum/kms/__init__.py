"""AWS KMS: keys, aliases, grants of use (encrypt, decrypt, data keys), key material sealed at rest.

Layers: `api` -> `services` -> `store` -> `domain` (pure). Other services use `services.keys`.
"""
