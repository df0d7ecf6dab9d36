// Test support: starts a real docker-registry for integration tests.
