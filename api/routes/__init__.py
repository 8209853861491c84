"""HTTP routes, one module per resource; :data:`ROUTERS` is what the app mounts."""
