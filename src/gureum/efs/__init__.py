"""Amazon EFS: file systems, mount targets, access points and file system policies."""
