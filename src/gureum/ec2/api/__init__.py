"""EC2's wire adapter: handlers that call one network service method each and render its
answer in the shapes of botocore's model (the ec2 codec parses and writes them)."""
