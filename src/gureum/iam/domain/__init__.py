"""IAM's pure core: entities, names, policy documents, AWS managed policies, errors."""
