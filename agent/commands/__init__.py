"""CLI command modules. Each module defines ``register(app, bench)``; keep imports light."""
