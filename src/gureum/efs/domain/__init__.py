"""EFS's pure core: values, rules, lifecycles and errors."""
