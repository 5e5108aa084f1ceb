"""KMS's pure core: key states and rules, the ciphertext envelope, KMS's errors."""
