"""AWS Security Token Service: who is calling, and temporary credentials of roles."""
