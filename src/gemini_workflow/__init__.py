"""Dev-side workflow logic behind tasks.py: engine, images, host bootstrap, stack, release.

Never imported by the service and never shipped in the runtime image.
"""
