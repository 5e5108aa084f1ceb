"""STS's services: assuming roles and verifying the sessions they give."""
