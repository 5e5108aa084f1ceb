"""EC2's services: the network service other services read (EFS mount targets, Lambda VpcConfig)."""
