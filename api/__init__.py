"""The FastAPI service: routes, dependencies and schemas that translate HTTP to core calls."""
