"""The engine thread (`thread`), what it hands back encoded (`encoding`), and the bridge that follows one of
its jobs from the event loop (`bridge`): shared by the in-process backend and `stylebot worker`."""
