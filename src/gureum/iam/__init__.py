"""AWS Identity and Access Management: roles, users, managed and inline policies, access keys."""
