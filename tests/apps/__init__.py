"""Backend app factories for tests: minimal, crashing at once, and so on."""
