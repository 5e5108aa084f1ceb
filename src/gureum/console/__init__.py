"""The web console at `/_gureum/console`: functions, versions and aliases, concurrency, throttles,
cold starts, queues, keys and scaling, live. It reads and acts only through the other services'
`services` modules (and ports the composition root fills), never their stores or APIs."""
