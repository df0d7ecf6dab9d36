// The harness's suites use the shared test support (process runner, scratch folders, image and
// blob writers, `TestTools`): a file that imports RegistryHarness sees it too.
@_exported import TestSupport
