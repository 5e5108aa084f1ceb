"""EC2's pure core: CIDR math, VPCs, subnets, security groups and their rules, route
tables, zones, tags and filters."""
