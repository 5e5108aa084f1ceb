"""KMS's services: the key service (the public interface), its keyring and aliases."""
