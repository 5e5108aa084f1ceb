"""IAM's services: the identities and policies of every account, and the keys they sign with."""
